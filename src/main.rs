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

/// Fixes glibc's mmap threshold at its default (128 KiB). Left dynamic, it
/// rises after the first large blocks are freed (a 200k-fence snapshot's
/// build frees several), so later ones come from the heap, whose freed
/// middle is never returned: ~4 MB of a 200k-fence server's resident
/// memory, measured. Large blocks are rare on the hot path.
fn fix_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's tuning; called before
    // any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

fn main() -> anyhow::Result<()> {
    fix_mmap_threshold();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.default_log_level());
    cli.run().await
}
