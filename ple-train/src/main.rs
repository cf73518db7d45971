fn main() {
    eprintln!("ple-train: not built yet");
    std::process::exit(2);
}
