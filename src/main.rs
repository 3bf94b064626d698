//! The `tend` binary: a thin wrapper over [`tend::cli`].

fn main() {
    std::process::exit(tend::cli::main());
}
