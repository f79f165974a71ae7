//! `pytask`: parse the command line once, set up logging, run the chosen command, pick the exit code.

use std::process::ExitCode;

use server::config::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse_or_exit();
    server::telemetry::init(&cli.config.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("pytask: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => server::serve(cli.config).await.map_err(|err| err.to_string()),
            Command::Migrate => server::migrate(cli.config).await.map_err(|err| err.to_string()),
            Command::User { action } => server::cli::run(cli.config, action).await.map_err(|err| err.to_string()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "pytask stopped");
            eprintln!("pytask: {err}");
            ExitCode::FAILURE
        }
    }
}
