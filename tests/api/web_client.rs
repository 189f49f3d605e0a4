//! The example web client (`examples/web-client`, TypeScript: graphql-codegen typed documents,
//! urql with automatic persisted queries, graphql-ws) against a real `qyzmet serve --dev --demo`
//! on a fresh database: its types check against `schema.graphql`, a clerk's, a head's and an
//! applicant's day runs in Node.js, a page on another origin does the same in headless Chromium
//! (CORS, WebSocket), and GraphiQL shows the schema docs with every other host blocked.
//! `examples/web-client/setup.sh` installs Chromium and the npm packages when missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::binary::{free_port, qyzmet, wait_ready, workdir};
use crate::helpers::TestDatabase;

const PASSWORD: &str = "web-client-Pa55word";

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/web-client")
}

/// Runs a command in the example's directory; fails the test with its output when it fails.
fn run(what: &str, cmd: &mut Command) -> String {
    let out = cmd
        .current_dir(example_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not start: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{text}",
        out.status
    );
    text
}

#[actix_web::test]
async fn the_example_web_client_runs_a_day_in_node_and_in_chromium_from_another_origin() {
    run("setup.sh", &mut Command::new("./setup.sh"));
    run(
        "codegen, typecheck, build",
        Command::new("npm").args(["run", "-s", "check"]),
    );

    let dir = workdir("web-client");
    let database = TestDatabase::create().await;
    let port = free_port();
    let mut server = qyzmet(&dir)
        .env("QYZMET_DEMO_PASSWORD", PASSWORD)
        .args([
            "serve",
            "--dev",
            "--demo",
            "--database",
            &database.url,
            "--listen",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server starts");
    assert!(wait_ready(port), "the server never became ready");
    let url = format!("http://127.0.0.1:{port}");
    let node = |script: &str| {
        let mut c = Command::new("node");
        c.arg(format!("dist/{script}.js"))
            .env("QYZMET_URL", &url)
            .env("QYZMET_DEMO_PASSWORD", PASSWORD);
        c
    };
    let outcome = std::panic::catch_unwind(|| {
        let day = run("the day in Node.js", &mut node("day"));
        assert!(day.contains("the applicant saw version"), "{day}");
        let browser = run("the page in Chromium", &mut node("browser-test"));
        assert!(
            browser.contains("ok: a page on http://localhost:"),
            "{browser}"
        );
        let graphiql = run("GraphiQL offline", &mut node("graphiql-offline"));
        assert!(
            graphiql.contains("ok: GraphiQL showed the schema docs"),
            "{graphiql}"
        );
        assert!(example_dir()
            .join("artifacts/graphiql-offline.png")
            .is_file());
    });
    let _ = server.kill();
    let _ = server.wait();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
