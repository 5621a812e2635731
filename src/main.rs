//! The `punchguard` binary: parses arguments, sets up logging, and hands
//! over to the library's command line (`punchguard::cli`).

use clap::Parser;
use tracing_subscriber::EnvFilter;

use punchguard::cli::Cli;

fn init_logging(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.default_log_level());
    cli.run().await
}
