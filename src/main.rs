//! The `feedwatch` binary: logging, command line, dispatch, and turning
//! errors into one line on stderr with a non-zero exit.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    init_tracing(args.command.default_log_level());
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("feedwatch: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::dispatch(args)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("feedwatch: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr; `FEEDWATCH_LOG` (or `RUST_LOG`) overrides the level,
/// e.g. `FEEDWATCH_LOG=feedwatch=debug`.
fn init_tracing(default_level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("FEEDWATCH_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
