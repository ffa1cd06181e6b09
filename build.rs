fn main() {
    // Only the Node addon needs the napi link setup; the pure core builds without it.
    if std::env::var_os("CARGO_FEATURE_NODE").is_some() {
        napi_build::setup();
    }
}
