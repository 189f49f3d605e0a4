//! `schema.graphql` is the contract with frontend teams: generated from the code, checked here.

const REGENERATE: &str = "run `cargo run -- export-schema` and commit schema.graphql";

fn checked_in() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}; {REGENERATE}"))
}

#[test]
fn schema_graphql_matches_the_code() {
    let current = api::graphql::sdl();
    assert!(
        current == checked_in(),
        "schema.graphql differs from the schema the code builds; {REGENERATE}"
    );
}

/// Every type, field, argument and enum value we define carries a description.
#[test]
fn every_type_and_field_is_documented() {
    let sdl = api::graphql::sdl();
    let mut undocumented = Vec::new();
    let mut previous = "";
    let mut in_block_string = false;
    for line in sdl.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("\"\"\"") {
            // A description line, or the opening/closing quote of one.
            let opens_and_closes = trimmed.len() > 3 && trimmed.ends_with("\"\"\"");
            if !opens_and_closes {
                in_block_string = !in_block_string;
            }
            previous = "\"\"\"";
            continue;
        }
        if in_block_string || trimmed.is_empty() {
            if !trimmed.is_empty() {
                previous = trimmed;
            }
            continue;
        }
        let is_definition = trimmed.starts_with("type ")
            || trimmed.starts_with("enum ")
            || trimmed.starts_with("input ")
            || trimmed.starts_with("scalar ")
            || trimmed.starts_with("interface ")
            || trimmed.starts_with("union ");
        let is_member = line.starts_with('\t') || line.starts_with("  ");
        let describes = previous == "\"\"\"" || previous.starts_with('"');
        let skip = trimmed == "}"
            || trimmed.starts_with("directive ")
            || trimmed.starts_with("schema ")
            || trimmed.starts_with("query:")
            || trimmed.starts_with("mutation:")
            || trimmed.starts_with("subscription:")
            || trimmed == ")"
            || trimmed.starts_with("):");
        if (is_definition || is_member) && !skip && !describes {
            undocumented.push(trimmed.to_owned());
        }
        previous = trimmed;
    }
    assert!(
        undocumented.is_empty(),
        "add /// doc comments to: {undocumented:#?}"
    );
}
