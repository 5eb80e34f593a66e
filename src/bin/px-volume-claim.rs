//! The `px-volume-claim` program: a thin main.
//!
//! px-volume-claim: see `mooring::px_claim` and the README.
//! The packages install one program, `mooring`, under this name too
//! (src/multicall.rs).

fn main() {
    mooring::px_claim::main(std::env::args_os().collect())
}
