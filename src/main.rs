/// The stack of the command's thread and of rayon's workers. Within its fuel a template can
/// build a value thousands of levels deep, and printing or dropping it recurses as deep: about
/// 10 MB in a debug build at the deepest the fuel allows.
const STACK: usize = 64 * 1024 * 1024;

fn main() {
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(STACK)
        .build_global();
    let command = std::thread::Builder::new()
        .name("fleeet".into())
        .stack_size(STACK)
        .spawn(fleeet::cli::main);
    let code = command
        .ok()
        .and_then(|thread| thread.join().ok())
        .unwrap_or(fleeet::error::EXIT_FAILURE);
    std::process::exit(code);
}
