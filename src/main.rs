//! The `steadfast` command: parses the command line and hands over to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = steadfast::commands::Cli::parse();
    match steadfast::commands::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("steadfast: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
