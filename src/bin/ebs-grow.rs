//! The `ebs-grow` program: a thin main.
//!
//! ebs-grow: see `mooring::ebs_grow` and the README.
//! The packages install one program, `mooring`, under this name too
//! (src/multicall.rs).

fn main() {
    mooring::ebs_grow::main(std::env::args_os().collect())
}
