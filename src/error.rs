//! The library's error type.
//!
//! Every failure a user can cause (bad files, bad shapes, no GPU, limits) is a variant here with
//! enough context to act on. The messages speak the library's language (a parameter is named as
//! the API spells it, [`Error::Parameter`]); the command line (`main.rs`) shows its own flag
//! names and maps each variant to an exit code.

use std::path::PathBuf;

/// Everything that can go wrong in selfattn's library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// wgpu found no adapter matching the requested backend / name.
    #[error(
        "no GPU adapter found{0}.\n  On Linux without a GPU, install Mesa's software Vulkan driver \
         (Debian/Ubuntu: `apt install mesa-vulkan-drivers libvulkan1`) or use wgpu's GL backend \
         (Mesa llvmpipe through EGL)."
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

    /// A value given to the library is out of range. `name` is the parameter as the API spells
    /// it (a field or argument, e.g. `d_model`), so a front end can show its own name for it
    /// (the command line shows `--d-model`).
    #[error("{name} {problem}")]
    Parameter {
        /// The parameter, as the API spells it.
        name: &'static str,
        /// What is wrong with its value, as the rest of the sentence.
        problem: String,
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

    /// A request that cannot be honoured as asked (a value that does not parse, outputs that
    /// contradict each other).
    #[error("{0}")]
    Usage(String),
}

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;
