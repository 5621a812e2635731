//! Compiles the gRPC contract in `proto/` with protox (pure Rust, so no
//! `protoc` is needed) and generates the tonic services from it. The encoded
//! descriptor set is also written out for gRPC server reflection.

use std::{env, fs, path::PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/punchguard/v1/types.proto",
        "proto/punchguard/v1/punch.proto",
        "proto/punchguard/v1/admin.proto",
        "proto/punchguard/v1/attendance.proto",
        "proto/punchguard/v1/privacy.proto",
        "proto/punchguard/v1/attestation.proto",
    ];
    println!("cargo:rerun-if-changed=proto");

    let fds = protox::compile(protos, ["proto"])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("punchguard_descriptor.bin"),
        fds.encode_to_vec(),
    )?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
