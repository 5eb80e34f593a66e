//! The `smilodon-attach` program: a thin main.
//!
//! smilodon-attach: see `mooring::smilodon` and the README.
//! The packages install one program, `mooring`, under this name too
//! (src/multicall.rs).

fn main() {
    mooring::smilodon::main(std::env::args_os().collect())
}
