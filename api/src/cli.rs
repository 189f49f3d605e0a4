//! The `qyzmet` command line: `serve` (the default), `migrate`, `export-schema`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::configuration::{CliOverrides, Settings};
use crate::startup::Application;
use crate::{graphql, store, telemetry};

/// qyzmet — Kazakhstan's regulated state services in education and child welfare.
#[derive(Debug, Parser)]
#[command(name = "qyzmet", version, about)]
pub struct Cli {
    /// Settings file (default: ./qyzmet.toml when it exists).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://USER@HOST:PORT/DB (default: sqlite://qyzmet.db).
    #[arg(long, global = true, value_name = "URL")]
    database: Option<String>,
    /// Address to listen on (default: 127.0.0.1:8080).
    #[arg(long, global = true, value_name = "ADDR")]
    listen: Option<String>,
    /// Explicit development mode: an ephemeral token secret when none is configured.
    #[arg(long, global = true)]
    dev: bool,
    /// With --dev: create the demo accounts listed in the README (once).
    #[arg(long, global = true)]
    demo: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Fill the database with realistic generated cases (demos, reports, benchmarks).
    Generate {
        /// How many cases.
        #[arg(long)]
        cases: u64,
        /// The year they are registered in.
        #[arg(long, default_value_t = 2025)]
        year: i32,
        /// Seed of the generator (the same seed gives the same cases).
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Recompute the report rollups from the cases and steps (after changing cases outside
    /// qyzmet, e.g. by SQL); safe while servers run.
    RebuildRollups,
    /// Manage regulations (one TOML file per regulation).
    Regulations {
        #[command(subcommand)]
        action: RegulationsAction,
    },
    /// Manage the working calendar.
    Calendar {
        #[command(subcommand)]
        action: CalendarAction,
    },
    /// Write the GraphQL schema (SDL) to a file, `-` for standard output.
    ExportSchema {
        /// Where to write it.
        #[arg(long, short, default_value = "schema.graphql")]
        output: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum RegulationsAction {
    /// Validate regulation files without loading them.
    Check {
        /// Regulation files (TOML, as data/regulations/*.toml).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Load regulation files: changed content becomes the next version; all or nothing.
    Import {
        /// Regulation files (TOML, as data/regulations/*.toml).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum CalendarAction {
    /// Validate a calendar file without storing it.
    Check {
        /// The calendar file (TOML, as data/calendar/kz.toml).
        file: PathBuf,
    },
    /// Store a calendar file as the next version (kept alongside the old ones).
    Import {
        /// The calendar file (TOML, as data/calendar/kz.toml).
        file: PathBuf,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::ExportSchema { output }) => return export_schema(output),
        Some(Command::Calendar {
            action: CalendarAction::Check { file },
        }) => return calendar_check(file),
        Some(Command::Regulations {
            action: RegulationsAction::Check { files },
        }) => return regulations_check(files),
        _ => {}
    }
    let overrides = CliOverrides {
        config: cli.config.clone(),
        database: cli.database.clone(),
        listen: cli.listen.clone(),
        dev: cli.dev,
    };
    let settings = match Settings::load(&overrides) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("qyzmet: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log_filter);
    let result = actix_web::rt::System::new().block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(settings, cli.demo).await,
            Command::Migrate => migrate(settings).await,
            Command::RebuildRollups => rebuild_rollups(settings).await,
            Command::Calendar {
                action: CalendarAction::Import { file },
            } => calendar_import(settings, &file).await,
            Command::Regulations {
                action: RegulationsAction::Import { files },
            } => regulations_import(settings, &files).await,
            Command::Generate { cases, year, seed } => generate(settings, cases, year, seed).await,
            Command::ExportSchema { .. }
            | Command::Calendar { .. }
            | Command::Regulations { .. } => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("qyzmet: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings, demo: bool) -> Result<(), String> {
    if demo && !settings.dev {
        return Err("--demo creates accounts with a known password and needs --dev".into());
    }
    if settings.dev {
        tracing::warn!("DEVELOPMENT MODE (--dev / QYZMET_DEV): not for production use");
    }
    let app = Application::build(&settings)
        .await
        .map_err(|e| e.to_string())?;
    if demo {
        let (password, generated) = match std::env::var("QYZMET_DEMO_PASSWORD") {
            Ok(p) if !p.is_empty() => (p, false),
            _ => (
                crate::auth::token::random_hex(8).map_err(|e| e.to_string())?,
                true,
            ),
        };
        let created = crate::store::demo::ensure(&app.state().db, &password)
            .await
            .map_err(|e| crate::error::ErrorChain(&e).to_string())?;
        if created > 0 {
            tracing::warn!(
                accounts = created,
                "demo accounts created (see the README for usernames)"
            );
            if generated {
                // Printed once, to the terminal only; never logged.
                println!("demo password (shown once): {password}");
            }
        } else {
            tracing::info!("demo accounts already exist; nothing created");
        }
    }
    app.run_until_stopped().await.map_err(|e| e.to_string())?;
    tracing::info!("stopped");
    // In-flight requests have finished. Leave now rather than drop the background workers'
    // connections while the runtime goes away (sqlx would abort on it); an unfinished
    // background transaction is rolled back by the database, so nothing is half-written.
    std::process::exit(0)
}

async fn migrate(settings: Settings) -> Result<(), String> {
    let db = store::connect(&settings.database)
        .await
        .map_err(|e| e.to_string())?;
    store::migrate(&db).await.map_err(|e| e.to_string())?;
    tracing::info!("migrations applied");
    Ok(())
}

async fn rebuild_rollups(settings: Settings) -> Result<(), String> {
    let db = store::connect(&settings.database)
        .await
        .map_err(|e| e.to_string())?;
    store::migrate(&db).await.map_err(|e| e.to_string())?;
    let failed = |e: &dyn std::fmt::Display| format!("rebuilding the report rollups failed: {e}");
    let txn = crate::store::begin_write(&db)
        .await
        .map_err(|e| failed(&e))?;
    let rows = store::rollup::rebuild(&txn).await.map_err(|e| failed(&e))?;
    txn.commit().await.map_err(|e| failed(&e))?;
    println!("report rollups rebuilt: {rows} rows");
    Ok(())
}

fn read(file: &PathBuf) -> Result<String, String> {
    std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))
}

fn calendar_check(file: &PathBuf) -> ExitCode {
    let checked = read(file).and_then(|text| {
        crate::store::calendar::check(&text).map_err(|e| format!("{}: {e}", file.display()))
    });
    match checked {
        Ok(cal) => {
            let (first, last) = cal.years();
            println!("{}: valid calendar for {first}–{last}", file.display());
            for year in first..=last {
                if let Ok(days) = cal.working_days_in(year) {
                    let mark = if cal.is_provisional(year) {
                        " (provisional)"
                    } else {
                        ""
                    };
                    println!("  {year}: {days} working days{mark}");
                }
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("qyzmet: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn calendar_import(settings: Settings, file: &PathBuf) -> Result<(), String> {
    let text = read(file)?;
    let db = store::connect(&settings.database)
        .await
        .map_err(|e| e.to_string())?;
    store::migrate(&db).await.map_err(|e| e.to_string())?;
    let source = format!("import {}", file.display());
    let imported = store::calendar::import(&db, &text, &source)
        .await
        .map_err(|e| format!("{}: {}", file.display(), crate::error::ErrorChain(&e)))?;
    if imported.created {
        println!("stored as calendar version {}", imported.version);
    } else {
        println!(
            "identical to calendar version {}: nothing changed",
            imported.version
        );
    }
    Ok(())
}

fn read_all(files: &[PathBuf]) -> Result<Vec<(String, String)>, String> {
    files
        .iter()
        .map(|f| read(f).map(|text| (f.display().to_string(), text)))
        .collect()
}

fn regulations_check(files: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    let mut parsed = Vec::new();
    for (name, text) in match read_all(files) {
        Ok(all) => all,
        Err(message) => {
            eprintln!("qyzmet: {message}");
            return ExitCode::FAILURE;
        }
    } {
        match crate::store::regulation::check(&name, &text) {
            Ok(r) => {
                println!(
                    "{name}: valid regulation {} ({} steps)",
                    r.code,
                    r.steps.len()
                );
                parsed.push((name, r));
            }
            Err(e) => {
                eprintln!("qyzmet: {e}");
                failed = true;
            }
        }
    }
    if let Err(e) = domain::regulation::check_unique(&parsed) {
        eprintln!("qyzmet: {e}");
        failed = true;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn regulations_import(settings: Settings, files: &[PathBuf]) -> Result<(), String> {
    let all = read_all(files)?;
    let db = store::connect(&settings.database)
        .await
        .map_err(|e| e.to_string())?;
    store::migrate(&db).await.map_err(|e| e.to_string())?;
    // Regions must exist before a regulation can refer to one.
    // The keys are not used by an import; an ephemeral secret keeps the real one out of reach.
    let keys = crate::auth::token::TokenKeys::new(
        crate::auth::token::random_hex(32)
            .map_err(|e| e.to_string())?
            .as_bytes(),
        settings.auth.access_token_ttl,
        settings.auth.refresh_token_ttl,
    );
    crate::startup::prepare_state(db.clone(), keys, crate::clock::Clock::system())
        .await
        .map_err(|e| e.to_string())?;
    let imported = store::regulation::import_all(&db, &all, "import")
        .await
        .map_err(|e| crate::error::ErrorChain(&e).to_string())?;
    for i in imported {
        if i.created {
            println!("{}: stored as version {}", i.code, i.version);
        } else {
            println!(
                "{}: identical to version {}: nothing changed",
                i.code, i.version
            );
        }
    }
    Ok(())
}

async fn generate(settings: Settings, cases: u64, year: i32, seed: u64) -> Result<(), String> {
    let db = store::connect(&settings.database)
        .await
        .map_err(|e| e.to_string())?;
    store::migrate(&db).await.map_err(|e| e.to_string())?;
    let keys = crate::auth::token::TokenKeys::new(
        crate::auth::token::random_hex(32)
            .map_err(|e| e.to_string())?
            .as_bytes(),
        settings.auth.access_token_ttl,
        settings.auth.refresh_token_ttl,
    );
    let state = crate::startup::prepare_state(db, keys, crate::clock::Clock::system())
        .await
        .map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let done = crate::generate::generate(&state, cases, year, seed)
        .await
        .map_err(|e| crate::error::ErrorChain(&e).to_string())?;
    println!(
        "generated {} cases and {} steps in {:.1} s",
        done.cases,
        done.steps,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn export_schema(output: &PathBuf) -> ExitCode {
    let sdl = graphql::sdl();
    let written = if output.as_os_str() == "-" {
        print!("{sdl}");
        Ok(())
    } else {
        std::fs::write(output, sdl)
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("qyzmet: cannot write {}: {e}", output.display());
            ExitCode::FAILURE
        }
    }
}
