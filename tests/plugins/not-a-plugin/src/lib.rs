//! A perfectly good shared library that is not an installer plugin.
#[no_mangle]
pub extern "C" fn add_one(x: u32) -> u32 {
    x + 1
}
