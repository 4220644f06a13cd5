//! The `feedwatch` binary: configuration, logging, command line, dispatch,
//! and turning errors into one line on stderr with a non-zero exit.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use feedwatch::config::Config;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

fn main() -> ExitCode {
    limit_malloc_arenas();
    let args = cli::Args::parse();
    // The config is loaded before anything else: a bad config is one line
    // on stderr and a non-zero exit, before any database is opened.
    let config = match Config::load(&args.config) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("feedwatch: {}", feedwatch::error_chain(&error));
            return ExitCode::FAILURE;
        }
    };
    init_tracing(&args, &config);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("feedwatch: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::dispatch(args, config)) {
        Ok(code) => code,
        // `feedwatch search | head`: the reader has all it wanted.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            // Not `{error:#}`: that prints every cause after its error, and
            // some errors' messages already end with their cause (`search`
            // printed a bad query's column and message twice).
            eprintln!("feedwatch: {}", feedwatch::error_chain(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// Whether `error` is a write to a closed pipe (`EPIPE`): the reader of
/// our output went away, which is a normal end, not a failure. (Rust
/// ignores `SIGPIPE`, so the write fails instead of killing the process;
/// that stays so, as a daemon must not die when a socket's peer goes.)
/// Commands write with `writeln!` and `?`, never `println!`, which panics.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    error.chain().any(|cause| {
        if let Some(e) = cause.downcast_ref::<std::io::Error>() {
            e.kind() == BrokenPipe
        } else if let Some(e) = cause.downcast_ref::<serde_json::Error>() {
            e.io_error_kind() == Some(BrokenPipe)
        } else if let Some(e) = cause.downcast_ref::<csv::Error>() {
            matches!(e.kind(), csv::ErrorKind::Io(e) if e.kind() == BrokenPipe)
        } else {
            false
        }
    })
}

/// The filter, by precedence: `FEEDWATCH_LOG` or `RUST_LOG`, `--log-level`,
/// `[log] level`, the command's default; the store's database driver
/// ([`feedwatch::store::DRIVER_LOG_TARGET`]) at `error` for commands other
/// than `run` unless the filter names it. The format: `--log-format`, else
/// `[log] format`, else `auto` — journald when systemd connected stderr to
/// the journal (`JOURNAL_STREAM`), human-readable text otherwise.
fn init_tracing(args: &cli::Args, config: &Config) {
    let level = std::env::var("FEEDWATCH_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .or_else(|| args.log_level.clone())
        .or_else(|| config.log.level.clone())
        .unwrap_or_else(|| args.command.default_log_level().to_string());
    let mut filter = EnvFilter::try_new(&level).unwrap_or_else(|_| EnvFilter::new("info"));
    // The database driver reports its own detail at WARN: a statement
    // slower than a second, with the whole SQL. That is for the daemon's
    // log, not the terminal of someone running `stats` or `search`; there
    // its errors remain. A filter that names the driver itself decides.
    let driver = feedwatch::store::DRIVER_LOG_TARGET;
    if !matches!(args.command, cli::Command::Run(_)) && !level.contains(driver) {
        filter = filter.add_directive(format!("{driver}=error").parse().expect("a valid directive"));
    }
    let format = args
        .log_format
        .map(|f| f.as_str())
        .or(config.log.format.as_deref())
        .unwrap_or("auto");
    let journald = match format {
        "journald" => true,
        "auto" => std::env::var_os("JOURNAL_STREAM").is_some(),
        _ => false,
    };
    let layer: Box<dyn Layer<_> + Send + Sync> = if journald {
        match tracing_journald::layer() {
            Ok(layer) => layer.boxed(),
            // No journal socket: fall back to stderr.
            Err(_) => text_layer(),
        }
    } else if format == "json" {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed()
    } else {
        text_layer()
    };
    tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .init();
}

fn text_layer<S>() -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .boxed()
}

/// Caps glibc's malloc at two arenas. By default it opens one per thread
/// that contends for the heap, up to eight per core, and keeps what each one
/// freed: the parse tasks, tokio workers and SQLite's threads all allocate,
/// and a cold 2,000-feed cycle peaked 15–20 MB higher (BENCHMARKS.md). The
/// same as `MALLOC_ARENA_MAX=2`, which still takes precedence if set.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a tunable; it runs before any other
        // thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}
