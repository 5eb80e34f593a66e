//! The `etcd-member-prepare` program: a thin main.
//!
//! etcd-member-prepare: see `mooring::etcd_member` and the README.
//! The packages install one program, `mooring`, under this name too
//! (src/multicall.rs).

fn main() {
    mooring::etcd_member::main(std::env::args_os().collect())
}
