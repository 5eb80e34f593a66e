//! The `mooring` program: the six tools in one (what packages install).
//!
//! mooring: the six tools in one program (what the packages install).
//! Run by a tool's name (a link) or as `mooring <tool> [ARGS]`.

fn main() {
    mooring::multicall::main(std::env::args_os().collect())
}
