//! Command-line definitions (clap). Kept apart from the commands so `--help` reads as one page.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use selfattn::gpu::BackendChoice;
use selfattn::heatmap::Colormap;

const AFTER_HELP: &str = "\
Exit codes:
  0  success: the GPU result agrees with the CPU reference (nothing is checked with --verify none)
  1  bad input (file, shape, NaN/inf, size beyond the adapter's limits) or an unwritable output
  2  bad command line
  3  the GPU result disagrees with the CPU reference beyond --tolerance
  4  no GPU adapter found (on Linux without a GPU: apt install mesa-vulkan-drivers, or --backend gl)
  130, 143  interrupted by Ctrl-C / SIGTERM (temporary files removed, no output half-written)

Outputs (--out, --html, --save's files, --json): a regular file is replaced only once complete
(its permissions kept); a symlink is followed and its target replaced, the link kept; a device,
FIFO or socket (/dev/null, /dev/stdout, a named pipe) is written through, never replaced, and a
write error there (a full device, a reader gone) is exit 1; '-' is standard output, and the
report then goes to standard error.

Environment: WGPU_BACKEND and WGPU_ADAPTER_NAME choose the adapter when the flags are absent;
SELFATTN_HOST_MEMORY (e.g. 2G) caps the host memory a run may plan for (default: what the
machine has available now); RUST_LOG=info logs the adapter and its driver.";

/// Self-attention, softmax(Q·Kᵀ/√d_k)·V, computed in WGSL compute shaders on any GPU wgpu reaches,
/// checked against an f64 CPU reference and drawn as a heatmap.
///
/// With no arguments it runs the seed tutorial's NumPy example ("I love AI") and writes
/// attention_heatmap.png.
#[derive(Parser, Debug)]
#[command(name = "selfattn", version, after_help = AFTER_HELP, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; without one, `run`.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Options of `run` (the default command).
    #[command(flatten)]
    pub run: RunArgs,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Compute attention on the GPU, check it against the CPU, print a report, draw the heatmap.
    Run(RunArgs),
    /// Walk through attention step by step (X, Q, K, V, scores, weights, output), each stage
    /// computed on the GPU and checked against the CPU.
    Explain(ExplainArgs),
    /// List every adapter wgpu can see, with the limits and features that matter here.
    Devices(GpuArgs),
    /// torch.nn.MultiheadAttention(batch_first=True) in eval mode: a PyTorch state dict
    /// (safetensors) or drawn weights, .npy inputs, masks, per-head pictures.
    ///
    /// Unlike PyTorch, a query whose every key is masked gets zero weights (PyTorch gives NaN);
    /// its output is then out_proj's bias.
    #[command(after_help = MASK_HELP)]
    Mha(MhaArgs),
    /// torch.nn.functional.scaled_dot_product_attention on .npy arrays shaped (…, L, E).
    ///
    /// The bool --attn-mask means True = TAKE PART (the opposite of `mha`); a float mask is
    /// added; the mask broadcasts against (…, L, S). A query whose every key is masked gets zero
    /// weights and a zero output (PyTorch gives NaN). Weights larger than the device's storage
    /// binding limit are computed in blocks of query rows (SELFATTN_MAX_STORAGE_BYTES lowers
    /// that limit, to try it); beyond 4 GiB of weights, --no-weights is the way.
    Sdpa(SdpaArgs),
    /// Time the attention kernels for a list of sizes: GPU time, end-to-end time, GFLOP/s
    /// (4·N²·d per head, half when causal) and the CPU reference's time, with and without
    /// read-back of the weights. Warm-up first, then medians.
    Bench(BenchArgs),
    /// Run a pretrained model on the GPU and draw what its heads attend to: a BERT-family
    /// encoder (a Hugging Face model folder) or a LLaMA-family decoder (a GGUF file).
    ///
    /// The whole forward pass runs in our WGSL kernels and is checked against the same pass on
    /// the CPU in f64. An encoder's attentions and last hidden state match transformers'
    /// BertModel with output_attentions=True; a decoder's (RMSNorm, rotary positions, causal
    /// grouped-query attention, SwiGLU) match LlamaForCausalLM loading the same GGUF, and the
    /// greedy next token is printed. Layers and heads are numbered from 0, as in transformers.
    #[command(after_help = MODEL_HELP)]
    Model(ModelArgs),
}

const MODEL_HELP: &str = "\
Pictures:
  --layer L --head H   one heatmap of that head
  --layer L            that layer's heads side by side, plus their average
  (neither)            a layers × heads overview of small maps, with a zoomed panel of the last
                       layer's average carrying the token labels
Several sentences (--text repeated, or --text-file) run as one padded batch; each gets its own
picture (FILE_0.png, FILE_1.png …) drawn without its padding. A decoder's pictures and page leave
the causal triangle blank, and label tokens as text: ␣ a space, ↵ a newline, \\xF0 a byte of a
character split over tokens.

Example models: all-MiniLM-L6-v2 and SmolLM2-135M-Instruct (see the README's \"Real model\"
sections for the commands that fetch them).";

/// Which kernels `bench` measures.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchKernel {
    /// The device's own matmul path (tiled on GPUs; on CPU adapters blocked-shuffle where
    /// their subgroups can be 8 wide, else blocked; with and without weight read-back) and its
    /// own output-only kernel (flash-shuffle on CPU adapters with subgroups at least 8 wide,
    /// else flash-tiled where its workgroup tiles fit, else flash).
    Auto,
    /// Only the one-output-per-invocation baseline matmul path.
    Naive,
    /// Only the register-blocked matmul path.
    Blocked,
    /// Only the workgroup-memory tiled matmul path.
    Tiled,
    /// Only the register-blocked matmul path with A's loads shared through subgroup shuffles
    /// (the choice on CPU adapters whose subgroups can be 8 wide, such as lavapipe).
    BlockedShuffle,
    /// The device's matmul with the one-row-per-invocation softmax (the choice on CPU adapters
    /// and devices without subgroups).
    SoftmaxPerRow,
    /// The device's matmul with the subgroup-reduction softmax, one row per workgroup (the
    /// choice on GPUs with the SUBGROUP feature).
    SoftmaxSubgroup,
    /// Only the output-only online-softmax path, one query row per invocation (no workgroup
    /// memory: the fallback for devices with less than 24 KiB of it).
    Flash,
    /// Only the output-only online-softmax path, 64 × 64 tiles per workgroup through workgroup
    /// memory (the choice on GPUs, and on CPU adapters without subgroups at least 8 wide).
    FlashTiled,
    /// Only the output-only online-softmax path for CPU adapters: 32 rows per subgroup of 8
    /// invocations sharing scores and weights through subgroup operations, no workgroup memory
    /// (the choice on CPU adapters with subgroups at least 8 wide, such as lavapipe).
    FlashShuffle,
    /// Only the fused weights path: the output-only kernel (the device's) leaving each row's max
    /// and sum, then the weights written once from them (Q·Kᵀ computed twice, the N×N weights
    /// touched once); always with read-back.
    Fused,
    /// All of them, side by side (the softmax variant the device would not choose too, where
    /// it can run it).
    All,
}

/// Options of `bench`.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Sequence lengths N (L = S), comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [128usize, 256, 512, 1024, 2048, 4096])]
    pub sizes: Vec<usize>,

    /// Head width d.
    #[arg(long, default_value_t = 64)]
    pub d: usize,

    /// Heads.
    #[arg(long, default_value_t = 1)]
    pub heads: usize,

    /// Batch elements.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,

    /// Causal mask (half the FLOPs are counted).
    #[arg(long)]
    pub causal: bool,

    /// Kernels to measure.
    #[arg(long, value_enum, default_value = "auto")]
    pub kernel: BenchKernel,

    /// Timed runs per measurement (after one warm-up run); the median is reported.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,

    /// Skip timing the CPU reference (it is O(N²·d) in f64 and slow for large N).
    #[arg(long)]
    pub no_cpu: bool,

    /// Also write the measurements as JSON (an array of records) to FILE (`-`: standard output,
    /// the table then goes to standard error).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Time a model instead (as for `model`), phase by phase: a BERT-family encoder's forward
    /// pass (tokenize, upload, GPU, read-back, CPU check), or a LLaMA-family GGUF decoder's
    /// prompt processing (tokens/s) and greedy generation with the KV cache (ms per token).
    #[arg(long, value_name = "DIR|FILE.gguf", conflicts_with_all = ["sizes", "d", "heads", "batch", "causal", "kernel"])]
    pub model: Option<PathBuf>,

    /// With --model: the text to run (default: a built-in paragraph), cut to --tokens.
    #[arg(long, requires = "model")]
    pub text: Option<String>,

    /// With --model: tokens in the input, [CLS] and [SEP] included (the text is truncated to
    /// this; it must be at least this long).
    #[arg(long, default_value_t = 128, requires = "model")]
    pub tokens: usize,

    /// With a decoder's --model: tokens generated after the prompt per run.
    #[arg(long, default_value_t = 16, requires = "model")]
    pub new_tokens: usize,

    #[command(flatten)]
    pub gpu: GpuArgs,
}

const MASK_HELP: &str = "\
Masks follow nn.MultiheadAttention: a bool mask's True means NOT allowed; a float mask is added to
the scores (-inf excludes the key). --key-padding-mask is (N, S), or (S) for unbatched input;
--attn-mask is (L, S) or (N·heads, L, S). --causal adds a top-left causal mask (key j allowed for
query i only when j <= i).

Outputs (--save DIR): output.npy (N, L, E) and weights.npy (N, L, S) averaged over heads, or
(N, heads, L, S) with --per-head; the N axis is absent for unbatched (L, E) input, as in PyTorch.

Weights larger than the device's storage binding limit (every head's are on the GPU) are computed in
blocks of query rows (SELFATTN_MAX_STORAGE_BYTES lowers that limit, to try it); beyond 4 GiB of
weights, --no-weights is the way.";

/// Where pictures and arrays go, shared by `mha` and `sdpa`.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Heatmap PNG to write (one panel per head, plus the average, when there are several);
    /// `-` writes it to standard output.
    #[arg(long, default_value = "attention_heatmap.png", value_name = "FILE.png")]
    pub out: PathBuf,

    /// Do not draw the heatmap.
    #[arg(long)]
    pub no_heatmap: bool,

    /// Also write an interactive viewer: one self-contained HTML page (every head and batch
    /// element, hover for values, lines view; opens from disk, no network). Needs the weights.
    /// `-` writes it to standard output.
    #[arg(long, value_name = "FILE.html")]
    pub html: Option<PathBuf>,

    /// Heatmap colormap.
    #[arg(long, value_enum, ignore_case = true, default_value_t = Colormap::Viridis)]
    pub cmap: Colormap,

    /// Which batch element to draw.
    #[arg(long, default_value_t = 0)]
    pub batch_index: usize,

    /// With --causal, draw the masked upper triangle instead of leaving it blank.
    #[arg(long)]
    pub show_masked: bool,

    /// Query labels for the picture, separated by spaces (default 0..L-1).
    #[arg(long)]
    pub tokens: Option<String>,

    /// Key labels for the picture (default: in `mha` self-attention --tokens, else 0..S-1).
    #[arg(long)]
    pub key_tokens: Option<String>,

    /// Write output.npy and weights.npy (f32, PyTorch's shapes) into DIR (created if missing).
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,

    /// Largest allowed |GPU − CPU| on the weights (see `run --help`).
    #[arg(long, default_value_t = selfattn::compare::DEFAULT_TOLERANCE)]
    pub tolerance: f64,

    /// Compute the output only, with an online softmax that never stores the (…, L, S) weights;
    /// no heatmap, no weights.npy (as need_weights=False).
    #[arg(long)]
    pub no_weights: bool,
}

/// Options of `mha`.
#[derive(Args, Debug, Clone)]
pub struct MhaArgs {
    /// The module's state_dict() saved with safetensors (in_proj_weight, in_proj_bias,
    /// out_proj.weight, out_proj.bias, or q/k/v_proj_weight); f32, f16 or bf16.
    #[arg(long, value_name = "FILE.safetensors", conflicts_with = "embed_dim")]
    pub state_dict: Option<PathBuf>,

    /// Without --state-dict: draw a module of this width from --seed (PyTorch's initialisation).
    #[arg(long, value_name = "E")]
    pub embed_dim: Option<usize>,

    /// Seed for drawn weights.
    #[arg(long, default_value_t = 42)]
    pub seed: u32,

    /// Number of heads (PyTorch does not store it in the state dict).
    #[arg(long)]
    pub heads: usize,

    /// Query, (L, E) or (N, L, E) .npy.
    #[arg(long, value_name = "FILE.npy")]
    pub query: PathBuf,

    /// Key, (S, kdim) or (N, S, kdim); default the query (self-attention).
    #[arg(long, value_name = "FILE.npy")]
    pub key: Option<PathBuf>,

    /// Value, (S, vdim) or (N, S, vdim); default the key.
    #[arg(long, value_name = "FILE.npy")]
    pub value: Option<PathBuf>,

    /// (N, S) bool (True = ignore that key) or float (added).
    #[arg(long, value_name = "FILE.npy")]
    pub key_padding_mask: Option<PathBuf>,

    /// (L, S) or (N·heads, L, S) bool (True = not allowed) or float (added).
    #[arg(long, value_name = "FILE.npy")]
    pub attn_mask: Option<PathBuf>,

    /// Top-left causal mask.
    #[arg(long)]
    pub causal: bool,

    /// Save weights per head, (N, heads, L, S), as average_attn_weights=False (no effect with
    /// --no-weights, which forms no weights).
    #[arg(long)]
    pub per_head: bool,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub gpu: GpuArgs,
}

/// Options of `sdpa`.
#[derive(Args, Debug, Clone)]
pub struct SdpaArgs {
    /// Queries, (…, L, E) .npy.
    #[arg(long, value_name = "FILE.npy")]
    pub q: PathBuf,

    /// Keys, (…, S, E) .npy.
    #[arg(long, value_name = "FILE.npy")]
    pub k: PathBuf,

    /// Values, (…, S, Ev) .npy.
    #[arg(long, value_name = "FILE.npy")]
    pub v: PathBuf,

    /// Broadcastable to (…, L, S): bool (True = take part) or float (added).
    #[arg(long, value_name = "FILE.npy")]
    pub attn_mask: Option<PathBuf>,

    /// is_causal: top-left lower-triangular mask. Unlike PyTorch (which refuses the pair),
    /// --causal and --attn-mask may be combined: a key must pass both.
    #[arg(long)]
    pub causal: bool,

    /// Factor on q·kᵀ (default 1/√E).
    #[arg(long, value_parser = parse_finite)]
    pub scale: Option<f32>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub gpu: GpuArgs,
}

/// Adapter selection.
#[derive(Args, Debug, Clone, Default)]
pub struct GpuArgs {
    /// Graphics API: auto, vulkan, metal, dx12 or gl. `auto` honours WGPU_BACKEND.
    #[arg(long, default_value = "auto", value_parser = parse_backend)]
    pub backend: BackendChoice,

    /// Use the adapter whose name contains NAME (case-insensitive); else WGPU_ADAPTER_NAME.
    #[arg(long, value_name = "NAME")]
    pub adapter: Option<String>,
}

fn parse_backend(s: &str) -> Result<BackendChoice, String> {
    s.parse()
}

/// The seed tutorial's examples.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeedExample {
    /// 00_scratch.py: "I love AI", fixed 3×4 X, W_Q/W_K/W_V from np.random.seed(42).
    Numpy,
    /// 01_pytorch.py: "The cat sat down", d_model = d_head = 8, with an output projection W_o.
    Pytorch,
}

/// Where the attention problem comes from.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// One of the seed tutorial's examples (the default when no other input is given).
    #[arg(long, value_enum, conflicts_with_all = ["text", "embeddings"])]
    pub example: Option<SeedExample>,

    /// A sentence, split into word and punctuation tokens; embeddings and projections are drawn
    /// from --seed.
    #[arg(long, conflicts_with = "embeddings")]
    pub text: Option<String>,

    /// Token embeddings X as .npy (N×d_model, float32 or float64).
    #[arg(long, value_name = "X.npy")]
    pub embeddings: Option<PathBuf>,

    /// W_Q as .npy (d_model×d_k); drawn from --seed when absent. Q = X·W_Q.
    #[arg(long, value_name = "FILE", requires = "embeddings")]
    pub wq: Option<PathBuf>,

    /// W_K as .npy (d_model×d_k); drawn from --seed when absent.
    #[arg(long, value_name = "FILE", requires = "embeddings")]
    pub wk: Option<PathBuf>,

    /// W_V as .npy (d_model×d_v); drawn from --seed when absent.
    #[arg(long, value_name = "FILE", requires = "embeddings")]
    pub wv: Option<PathBuf>,

    /// Optional output projection W_O as .npy (d_v×d_out).
    #[arg(long, value_name = "FILE", requires = "embeddings")]
    pub wo: Option<PathBuf>,

    /// Token labels for --embeddings, separated by spaces (default 0..N-1).
    #[arg(long, requires = "embeddings", conflicts_with = "tokens_file")]
    pub tokens: Option<String>,

    /// Token labels for --embeddings, one per line.
    #[arg(long, value_name = "FILE", requires = "embeddings")]
    pub tokens_file: Option<PathBuf>,

    /// Seed for everything drawn at random (NumPy's legacy generator).
    #[arg(long, default_value_t = 42)]
    pub seed: u32,

    /// Embedding width for --text.
    #[arg(long, default_value_t = 64)]
    pub d_model: usize,

    /// Query/key width for --text and for drawn projections (default d_model, or W_Q's width).
    #[arg(long)]
    pub d_k: Option<usize>,

    /// Value width for --text and for a drawn W_V (default d_k).
    #[arg(long)]
    pub d_v: Option<usize>,

    /// Causal mask: query i attends only to keys j ≤ i.
    #[arg(long)]
    pub causal: bool,
}

/// Options of `run`.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub gpu: GpuArgs,

    /// Heatmap PNG to write; `-` writes it to standard output.
    #[arg(long, default_value = "attention_heatmap.png", value_name = "FILE.png")]
    pub out: PathBuf,

    /// Do not draw the heatmap.
    #[arg(long)]
    pub no_heatmap: bool,

    /// Also write an interactive viewer: one self-contained HTML page (hover for values, lines
    /// view; opens from disk, no network). Needs the weights. `-` writes it to standard output.
    #[arg(long, value_name = "FILE.html")]
    pub html: Option<PathBuf>,

    /// Heatmap colormap (default viridis; blues for --example pytorch).
    #[arg(long, value_enum, ignore_case = true)]
    pub cmap: Option<Colormap>,

    /// Heatmap title.
    #[arg(long)]
    pub title: Option<String>,

    /// Also write weights.npy (N×N) and output.npy (N×d_out), f32 as computed on the GPU, into DIR
    /// (created if missing).
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,

    /// Largest allowed |GPU − CPU| on the weights; the output is held to the same tolerance
    /// relative to its largest magnitude, max(1, max|output|).
    #[arg(long, default_value_t = selfattn::compare::DEFAULT_TOLERANCE)]
    pub tolerance: f64,

    /// Compute the output only, with an online softmax that never stores the N×N weights
    /// (memory O(N·d)); no heatmap, no weights.npy.
    #[arg(long)]
    pub no_weights: bool,

    /// How much to check against the CPU: auto (every element up to N = 2048, else 16 seeded
    /// random query rows, listed in the report), full, rows=K, or none.
    #[arg(long, default_value = "auto", value_parser = parse_verify)]
    pub verify: selfattn::verify::Verify,
}

fn parse_finite(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(v) => Err(format!("must be finite, got {v}")),
        Err(e) => Err(e.to_string()),
    }
}

/// The command line's name for a library parameter ([`selfattn::Error::Parameter`]): its flag,
/// the name kebab-cased (`d_model` is `--d-model`).
pub fn flag(name: &str) -> String {
    format!("--{}", name.replace('_', "-"))
}

fn parse_verify(s: &str) -> Result<selfattn::verify::Verify, String> {
    s.parse().map_err(|e: selfattn::Error| e.to_string())
}

/// Options of `explain`.
#[derive(Args, Debug, Clone)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub gpu: GpuArgs,

    /// Largest allowed |GPU − CPU| per stage (see `run --help`).
    #[arg(long, default_value_t = selfattn::compare::DEFAULT_TOLERANCE)]
    pub tolerance: f64,
}

/// Options of `model`.
#[derive(Args, Debug)]
pub struct ModelArgs {
    /// The model: a Hugging Face BERT-family folder (config.json, model.safetensors,
    /// tokenizer.json), or a LLaMA-family GGUF file (F32, F16, BF16, Q8_0, Q4_0, Q4_1 tensors,
    /// dequantised to f32 on load; e.g. SmolLM2-135M-Instruct.Q4_1.gguf).
    #[arg(long, value_name = "DIR|FILE.gguf")]
    pub model: PathBuf,

    /// A sentence (a prompt, for a decoder) to run; repeat for a batch (a decoder runs them one
    /// after the other).
    #[arg(long, value_name = "TEXT", required_unless_present = "text_file")]
    pub text: Vec<String>,

    /// A file with one sentence per line (blank lines skipped), run as one batch.
    #[arg(long, value_name = "FILE", conflicts_with = "text")]
    pub text_file: Option<PathBuf>,

    /// Refuse text longer than the model's positions (max_position_embeddings, or a decoder's
    /// context_length) instead of truncating it with a warning.
    #[arg(long)]
    pub no_truncate: bool,

    /// Print what each head does: its attention entropy, mean weight on the first token (an
    /// attention sink), previous-token score and, for a decoder, induction score (measured on
    /// a random token block repeated once, run as one more checked pass); the strongest heads
    /// of each are listed, and with --save every head's scores go to DIR/heads.json.
    #[arg(long)]
    pub summary: bool,

    /// A decoder only: wrap each text as a user message in the model's chat template
    /// (tokenizer.chat_template, rendered as transformers' apply_chat_template with
    /// add_generation_prompt), so the model answers it; use with --generate.
    #[arg(long)]
    pub chat: bool,

    /// A decoder only: continue each prompt greedily for up to K tokens (stopping after its
    /// EOS token), printing them as they come. Each new token runs one step that reads the
    /// earlier positions' keys and values from a KV cache kept on the GPU; the pictures, the
    /// page and --save (plus generation.json) then hold the whole sequence, so each generated
    /// token's row shows what it looked at.
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub generate: usize,

    /// Draw this layer (from 0): with --head one map, else a panel per head. For a decoder
    /// without --save and --html, the other layers run output-only (no N×N weights), so long
    /// prompts fit.
    #[arg(long, value_name = "L")]
    pub layer: Option<usize>,

    /// Draw this head (from 0) of --layer.
    #[arg(long, value_name = "H", requires = "layer")]
    pub head: Option<usize>,

    /// A decoder only, for long prompts: form the attention weights of these query positions
    /// alone, in every layer and head — e.g. `0,17,100-120,last` (from 0; ranges inclusive;
    /// `last` is the prompt's last token). Every layer runs output-only and only rows × N
    /// weights per head are kept, so thousands of tokens fit in --html (the page shows the
    /// picked rows against every key; rerun with other rows to see others) and --save
    /// (attentions.npy is then (layers, heads, rows, N), the positions in query_rows.txt). No
    /// PNG is drawn; not with --layer or --generate. --summary then scores the heads over the
    /// picked rows (heads.json lists them).
    #[arg(long, value_name = "LIST", conflicts_with_all = ["layer", "generate"])]
    pub rows: Option<RowList>,

    /// Heatmap PNG to write; with several sentences FILE_0.png, FILE_1.png …; `-` (one
    /// sentence) writes it to standard output.
    #[arg(long, default_value = "attention_heatmap.png", value_name = "FILE.png")]
    pub out: PathBuf,

    /// Do not draw.
    #[arg(long)]
    pub no_heatmap: bool,

    /// Heatmap colormap.
    #[arg(long, value_enum, ignore_case = true, default_value_t = Colormap::Viridis)]
    pub cmap: Colormap,

    /// Write attentions.npy (layers, heads, N, N), last_hidden_state.npy (N, hidden) and
    /// tokens.txt into DIR (created if missing); with several sentences one subfolder each
    /// (DIR/0, DIR/1 …), every one without its padding.
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,

    /// Also write an interactive, self-contained HTML viewer (every layer, head and sentence;
    /// opens from disk, no network). `-` writes it to standard output.
    #[arg(long, value_name = "FILE.html")]
    pub html: Option<PathBuf>,

    /// Skip the CPU reference (an f64 forward pass: seconds for a short sentence, minutes for
    /// hundreds of tokens through a large model). Nothing is checked then.
    #[arg(long)]
    pub no_check: bool,

    /// Largest allowed |GPU − CPU|: absolute on the attentions, relative to the largest value on
    /// the hidden states.
    #[arg(long, default_value_t = 1e-4)]
    pub tolerance: f64,

    /// Adapter selection.
    #[command(flatten)]
    pub gpu: GpuArgs,
}

/// `--rows`: query positions and inclusive ranges, `last` for the prompt's last token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowList {
    /// Inclusive ranges, each with its text as given (for messages).
    parts: Vec<(RowEnd, RowEnd, String)>,
    /// As given, for messages.
    text: String,
}

/// One end of a range of `--rows`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RowEnd {
    At(usize),
    Last,
}

impl std::str::FromStr for RowList {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let end = |s: &str| -> Result<RowEnd, String> {
            match s.trim() {
                "last" => Ok(RowEnd::Last),
                "" => Err("an empty entry (a position, `A-B` or `last` between commas)".into()),
                n if n.bytes().all(|b| b.is_ascii_digit()) => n
                    .parse()
                    .map(RowEnd::At)
                    .map_err(|_| format!("{n} is too large a position")),
                n => Err(format!(
                    "'{n}' is not a position (a number from 0, or `last`)"
                )),
            }
        };
        let parts = text
            .split(',')
            .map(|part| {
                let (a, b) = match part.split_once('-') {
                    Some((a, b)) => (end(a)?, end(b)?),
                    None => (end(part)?, end(part)?),
                };
                Ok((a, b, part.trim().to_string()))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(RowList {
            parts,
            text: text.to_string(),
        })
    }
}

impl std::fmt::Display for RowList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl RowList {
    /// The positions of a prompt of `tokens` tokens, sorted and without repeats; an error
    /// names the position past the prompt or the range that runs backwards.
    pub fn positions(&self, tokens: usize) -> Result<Vec<usize>, String> {
        let at = |e: RowEnd| match e {
            RowEnd::At(p) => p,
            RowEnd::Last => tokens.saturating_sub(1),
        };
        let mut rows = Vec::new();
        for (a, b, given) in &self.parts {
            let (a, b) = (at(*a), at(*b));
            if a > b {
                return Err(format!("the range {given} ({a} to {b}) runs backwards"));
            }
            if b >= tokens {
                return Err(format!(
                    "position {b} is past the prompt's {tokens} tokens (0 to {})",
                    tokens.saturating_sub(1)
                ));
            }
            rows.extend(a..=b);
        }
        rows.sort_unstable();
        rows.dedup();
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn row_lists_resolve_to_sorted_distinct_positions() {
        let rows: RowList = "7, 2-4,last,3".parse().unwrap();
        assert_eq!(rows.positions(10).unwrap(), [2, 3, 4, 7, 9]);
        assert_eq!(rows.to_string(), "7, 2-4,last,3");
        assert_eq!(rows.positions(8).unwrap(), [2, 3, 4, 7]);
        let e = rows.positions(7).unwrap_err();
        assert_eq!(e, "position 7 is past the prompt's 7 tokens (0 to 6)");
        let e = "5-2".parse::<RowList>().unwrap().positions(9).unwrap_err();
        assert!(e.contains("5-2 (5 to 2) runs backwards"), "{e}");
        let e = "last-3"
            .parse::<RowList>()
            .unwrap()
            .positions(10)
            .unwrap_err();
        assert!(e.contains("last-3 (9 to 3) runs backwards"), "{e}");
        let e = "1,x".parse::<RowList>().unwrap_err();
        assert!(e.contains("'x' is not a position"), "{e}");
        let e = "1,,2".parse::<RowList>().unwrap_err();
        assert!(e.contains("an empty entry"), "{e}");
        let e = "99999999999999999999999".parse::<RowList>().unwrap_err();
        assert!(e.contains("too large"), "{e}");
        assert!("".parse::<RowList>().is_err());
        assert!("-3".parse::<RowList>().is_err());
        assert_eq!(
            "last".parse::<RowList>().unwrap().positions(1).unwrap(),
            [0]
        );
    }

    /// Every long flag of the command line, subcommands included.
    fn flags(command: &clap::Command, into: &mut Vec<String>) {
        into.extend(
            command
                .get_arguments()
                .filter_map(|a| a.get_long().map(|l| format!("--{l}"))),
        );
        for sub in command.get_subcommands() {
            flags(sub, into);
        }
    }

    #[test]
    fn every_library_parameter_in_an_error_is_a_flag() {
        let mut all = Vec::new();
        flags(&Cli::command(), &mut all);
        // The names the library's Error::Parameter uses (src/examples.rs, src/mha.rs,
        // src/sdpa.rs).
        for name in ["d_model", "d_k", "d_v", "text", "heads", "scale"] {
            assert!(
                all.contains(&flag(name)),
                "no flag {} for {name}",
                flag(name)
            );
        }
        assert!(!all.contains(&flag("no_such_parameter")));
    }
}
