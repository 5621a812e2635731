//! Code generated from `proto/` (see `build.rs`). It stops at the transport
//! layer: the engine and the store never see these types.

#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod v1 {
    tonic::include_proto!("punchguard.v1");

    /// The encoded descriptors of the contract, for gRPC server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/punchguard_descriptor.bin"));
}
