fn main() {
    std::process::exit(fleeet::cli::main());
}
