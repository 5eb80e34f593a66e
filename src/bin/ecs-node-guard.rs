//! The `ecs-node-guard` program: a thin main.
//!
//! ecs-node-guard: see `mooring::ecs_guard` and the README.
//! The packages install one program, `mooring`, under this name too
//! (src/multicall.rs).

fn main() {
    mooring::ecs_guard::main(std::env::args_os().collect())
}
