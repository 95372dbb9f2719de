//! The `purger` binary.

use std::process::ExitCode;

use clap::Parser;

use server::cli::Cli;

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    server::cli::run(Cli::parse()).await
}
