//! The library's error type.
//!
//! Every failure a user can cause (bad files, bad shapes, no GPU, limits) is a variant here with
//! enough context to act on; `main.rs` maps them to exit codes (see [`Error::exit_code`]).

use std::path::PathBuf;

/// Everything that can go wrong in selfattn's library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// wgpu found no adapter matching the requested backend / name.
    #[error(
        "no GPU adapter found{0}.\n  On Linux without a GPU, install Mesa's software Vulkan driver \
         (Debian/Ubuntu: `apt install mesa-vulkan-drivers libvulkan1`) or try `--backend gl` \
         (Mesa llvmpipe through EGL). `selfattn devices` lists what wgpu can see."
    )]
    NoAdapter(String),

    /// The adapter refused to give us a device.
    #[error("could not open a device on adapter '{adapter}': {message}")]
    DeviceRequest {
        /// The adapter's name.
        adapter: String,
        /// What wgpu said.
        message: String,
    },

    /// Two tensors whose shapes must agree do not.
    #[error("shape mismatch: {0}")]
    ShapeMismatch(String),

    /// An input tensor holds NaN or infinity.
    #[error("tensor {tensor} holds a non-finite value ({value}) at index {index}")]
    NonFinite {
        /// The tensor (and its file, where it came from one).
        tensor: String,
        /// The first bad element's index.
        index: String,
        /// Its value.
        value: f64,
    },

    /// A dimension is zero or otherwise unusable.
    #[error("invalid size: {0}")]
    InvalidSize(String),

    /// The problem needs more than the adapter allows.
    #[error(
        "too large for this adapter: {what} needs {needed} bytes but {limit_name} is {limit} bytes"
    )]
    BufferTooLarge {
        /// The buffer or binding.
        what: String,
        /// Bytes it needs.
        needed: u64,
        /// The wgpu limit it exceeds.
        limit_name: &'static str,
        /// That limit's value on this adapter.
        limit: u64,
    },

    /// Mapping a read-back buffer failed.
    #[error("reading results back from the GPU failed: {0}")]
    Mapping(String),

    /// wgpu reported a validation or out-of-memory error.
    #[error("GPU validation error in {stage}: {message}")]
    Validation {
        /// The stage (kernel) that was recorded.
        stage: String,
        /// What wgpu said.
        message: String,
    },

    /// A file could not be read or parsed.
    #[error("{path}: {message}")]
    InputFile {
        /// The file.
        path: PathBuf,
        /// The tensor or key, and the problem.
        message: String,
    },

    /// A file could not be written.
    #[error("cannot write {path}: {message}")]
    OutputFile {
        /// The file.
        path: PathBuf,
        /// The problem.
        message: String,
    },

    /// A command-line value is not acceptable.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// The process exit code that `selfattn` uses for this error: 4 when no adapter exists, 2 for a
    /// bad command-line value, 1 for
    /// everything else the user can fix (bad input, limits, unwritable output).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::NoAdapter(_) => 4,
            Error::Usage(_) => 2,
            _ => 1,
        }
    }
}

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;
