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
    /// Explicit development mode.
    #[arg(long, global = true)]
    dev: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Write the GraphQL schema (SDL) to a file, `-` for standard output.
    ExportSchema {
        /// Where to write it.
        #[arg(long, short, default_value = "schema.graphql")]
        output: PathBuf,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::ExportSchema { output }) = &cli.command {
        return export_schema(output);
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
            Command::Serve => serve(settings).await,
            Command::Migrate => migrate(settings).await,
            Command::ExportSchema { .. } => Ok(()),
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

async fn serve(settings: Settings) -> Result<(), String> {
    if settings.dev {
        tracing::warn!("DEVELOPMENT MODE (--dev / QYZMET_DEV): not for production use");
    }
    let app = Application::build(&settings)
        .await
        .map_err(|e| e.to_string())?;
    app.run_until_stopped().await.map_err(|e| e.to_string())?;
    tracing::info!("stopped");
    Ok(())
}

async fn migrate(settings: Settings) -> Result<(), String> {
    let db = store::connect(&settings.database)
        .await
        .map_err(|e| e.to_string())?;
    store::migrate(&db).await.map_err(|e| e.to_string())?;
    tracing::info!("migrations applied");
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
