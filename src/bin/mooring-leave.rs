//! The `mooring-leave` program: a thin main.
//!
//! mooring-leave: see `mooring::leave` and the README.
//! The packages install one program, `mooring`, under this name too
//! (src/multicall.rs).

fn main() {
    mooring::leave::main(std::env::args_os().collect())
}
