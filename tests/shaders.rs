//! Every WGSL file is parsed and validated by naga at WebGPU's baseline, then translated to SPIR-V
//! (Vulkan), MSL (Metal), HLSL (DX12) and GLSL ES 3.1 (OpenGL), so a shader that would break on a
//! backend we can't run here fails on any machine, without a GPU.

use std::path::PathBuf;

use naga::back::{glsl, hlsl, msl, spv};
use naga::valid::{Capabilities, ValidationFlags, Validator};

fn shader_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("shaders/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wgsl"))
        .collect();
    files.sort();
    files
}

/// The committed text of `path` expanded as the pipelines see it (`#import`, `#for`).
fn expanded(path: &PathBuf) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    selfattn::shader_source::expand(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The `override` constants the registered kernel whose source is `raw` sets (none for a file
/// no kernel compiles).
fn spec_constants(raw: &str) -> Vec<(&'static str, f64)> {
    all_variants()
        .iter()
        .flat_map(|v| selfattn::kernels::REGISTRY.iter().map(move |spec| spec(v)))
        .find(|spec| spec.source == raw)
        .map(|spec| spec.constants.to_vec())
        .unwrap_or_default()
}

fn compile(path: &PathBuf) -> Result<(), String> {
    let source = expanded(path)?;
    let module = naga::front::wgsl::parse_str(&source)
        .map_err(|e| e.emit_to_string_with_path(&source, path.to_str().unwrap()))?;
    // Kernels that use subgroup operations are only compiled on devices with the SUBGROUP
    // feature; they are validated with it (and nothing else beyond the baseline).
    let uses_subgroups = [
        "subgroupAdd",
        "subgroupMax",
        "subgroupAll",
        "subgroupShuffle",
    ]
    .iter()
    .any(|op| source.contains(&format!("{op}(")));
    let mut validator = if uses_subgroups {
        let mut v = Validator::new(ValidationFlags::all(), Capabilities::SUBGROUP);
        v.subgroup_stages(naga::valid::ShaderStages::COMPUTE)
            .subgroup_operations(naga::valid::SubgroupOperationSet::all());
        v
    } else {
        Validator::new(ValidationFlags::all(), Capabilities::empty())
    };
    let info = validator
        .validate(&module)
        .map_err(|e| e.emit_to_string_with_path(&source, path.to_str().unwrap()))?;

    let entry_points: Vec<_> = module.entry_points.iter().collect();
    if entry_points.len() != 1 {
        return Err(format!(
            "expected exactly one entry point, found {}",
            entry_points.len()
        ));
    }
    let entry = entry_points[0];
    let stem = path.file_stem().unwrap().to_str().unwrap();
    if entry.name != stem {
        return Err(format!(
            "entry point '{}' should be named after its file '{stem}'",
            entry.name
        ));
    }
    if entry.stage != naga::ShaderStage::Compute {
        return Err("entry point is not a compute shader".into());
    }
    // The `override` constants, as the pipeline sets them from the kernel's KernelSpec.
    let raw = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut constants = naga::back::PipelineConstants::default();
    for (name, value) in spec_constants(&raw) {
        constants.insert(name.to_string(), value);
    }
    let (module, info) = naga::back::pipeline_constants::process_overrides(
        &module,
        &info,
        Some((naga::ShaderStage::Compute, &entry.name)),
        &constants,
    )
    .map_err(|e| format!("override constants: {e}"))?;
    let (module, info) = (module.as_ref(), info.as_ref());
    let entry = &module.entry_points[0];

    spv::write_vec(module, info, &spv::Options::default(), None)
        .map_err(|e| format!("SPIR-V: {e}"))?;
    msl::write_string(
        module,
        info,
        &msl::Options::default(),
        &msl::PipelineOptions::default(),
    )
    .map_err(|e| format!("MSL: {e}"))?;
    let mut hlsl_out = String::new();
    hlsl::Writer::new(
        &mut hlsl_out,
        &hlsl::Options::default(),
        &hlsl::PipelineOptions::default(),
    )
    .write(module, info, None)
    .map_err(|e| format!("HLSL: {e}"))?;
    let mut glsl_out = String::new();
    let pipeline = glsl::PipelineOptions {
        shader_stage: naga::ShaderStage::Compute,
        entry_point: entry.name.clone(),
        multiview: None,
    };
    let options = glsl::Options::default();
    glsl::Writer::new(
        &mut glsl_out,
        module,
        info,
        &options,
        &pipeline,
        naga::proc::BoundsCheckPolicies::default(),
    )
    .and_then(|mut w| w.write())
    .map_err(|e| format!("GLSL: {e}"))?;
    Ok(())
}

#[test]
fn every_shader_validates_and_translates_to_all_backends() {
    let files = shader_files();
    assert!(
        files.len() >= 2,
        "expected the kernels in shaders/, found {files:?}"
    );
    let failures: Vec<String> = files
        .iter()
        .filter_map(|f| compile(f).err().map(|e| format!("{}: {e}", f.display())))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_broken_shader_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.wgsl");
    std::fs::write(
        &path,
        "@compute @workgroup_size(1) fn broken() { let x: u32 = 1.5; }",
    )
    .unwrap();
    assert!(compile(&path).is_err());
}

/// The expanded text of shaders/`file` and its naga module.
fn parse_shader(file: &str) -> (String, naga::Module) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("shaders")
        .join(file);
    let source = expanded(&path).unwrap();
    let module = naga::front::wgsl::parse_str(&source).unwrap();
    (source, module)
}

/// The (name, byte offset) of each member of struct `name` in shaders/`file`, and its size.
fn struct_layout(file: &str, name: &str) -> (Vec<(String, u32)>, u32) {
    let (_, module) = parse_shader(file);
    let (_, ty) = module
        .types
        .iter()
        .find(|(_, t)| t.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("{file} declares no struct {name}"));
    match &ty.inner {
        naga::TypeInner::Struct { members, span } => (
            members
                .iter()
                .map(|m| (m.name.clone().unwrap_or_default(), m.offset))
                .collect(),
            *span,
        ),
        other => panic!("{name} in {file} is not a struct: {other:?}"),
    }
}

/// Kernel variants bound with the same params buffer must see the same struct, and its size must
/// be Rust's (each imports it from shaders/shared/; this catches a variant that stops doing so).
#[test]
fn kernel_variants_declare_the_same_params_struct() {
    for (name, files, rust_size) in [
        (
            "FlashParams",
            &[
                "flash.wgsl",
                "flash_tiled.wgsl",
                "flash_shuffle.wgsl",
                "attention_weights.wgsl",
            ][..],
            std::mem::size_of::<selfattn::kernels::flash::FlashParams>(),
        ),
        (
            "MatmulParams",
            &[
                "matmul.wgsl",
                "matmul_naive.wgsl",
                "matmul_tiled.wgsl",
                "matmul_shuffle.wgsl",
            ][..],
            std::mem::size_of::<selfattn::kernels::matmul::MatmulParams>(),
        ),
        (
            "SoftmaxParams",
            &["softmax.wgsl", "softmax_subgroup.wgsl"][..],
            std::mem::size_of::<selfattn::kernels::softmax::SoftmaxParams>(),
        ),
    ] {
        let first = struct_layout(files[0], name);
        assert_eq!(first.1 as usize, rust_size, "{name}: WGSL and Rust sizes");
        for file in &files[1..] {
            assert_eq!(
                struct_layout(file, name),
                first,
                "{name}: {file} vs {}",
                files[0]
            );
        }
    }
}

/// The value of the u32 (or f32) constant `name` declared in shaders/`file`.
fn shader_constant(file: &str, name: &str) -> f64 {
    let (source, module) = parse_shader(file);
    let Some((_, constant)) = module
        .constants
        .iter()
        .find(|(_, c)| c.name.as_deref() == Some(name))
    else {
        // naga keeps no abstract-typed constants (`const X = -1e30;`): read the literal.
        let declaration = format!("const {name} = ");
        let line = source
            .lines()
            .find_map(|l| l.trim().strip_prefix(&declaration))
            .unwrap_or_else(|| panic!("{file} declares no constant {name}"));
        let literal = line.split(';').next().unwrap().trim();
        return literal
            .parse()
            .unwrap_or_else(|e| panic!("{name} in {file}: {literal:?} is not a number: {e}"));
    };
    match module.global_expressions[constant.init] {
        naga::Expression::Literal(naga::Literal::U32(v)) => v as f64,
        naga::Expression::Literal(naga::Literal::F32(v)) => v as f64,
        ref other => panic!("{name} in {file} is not a u32 or f32 literal: {other:?}"),
    }
}

/// Every WGSL constant that a Rust constant mirrors ("keep in sync") has the same value: the
/// host sizes dispatches, loop budgets and buffers from the Rust side.
#[test]
fn shader_constants_match_their_rust_mirrors() {
    use selfattn::kernels::softmax;
    use selfattn::kernels::{attention_weights, flash, matmul};
    let pairs: &[(&str, &str, f64)] = &[
        ("matmul.wgsl", "WG_X", matmul::WG as f64),
        ("matmul.wgsl", "WG_Y", matmul::WG as f64),
        ("matmul.wgsl", "TILE", matmul::TILE as f64),
        ("matmul_naive.wgsl", "WG_X", matmul::WG as f64),
        ("matmul_naive.wgsl", "WG_Y", matmul::WG as f64),
        ("matmul_shuffle.wgsl", "WG_X", matmul::WG as f64),
        ("matmul_shuffle.wgsl", "WG_Y", matmul::WG as f64),
        ("matmul_shuffle.wgsl", "TILE", matmul::TILE as f64),
        ("matmul_shuffle.wgsl", "ROWS", matmul::SHUFFLE_ROWS as f64),
        ("matmul_tiled.wgsl", "WG_SIDE", matmul::TILED_WG_SIDE as f64),
        ("matmul_tiled.wgsl", "BLOCK", matmul::TILED_BLOCK as f64),
        ("matmul_tiled.wgsl", "KT", matmul::TILED_KT as f64),
        ("softmax.wgsl", "WG", softmax::WG as f64),
        ("softmax.wgsl", "MASKED_BELOW", softmax::MASKED_BELOW as f64),
        ("softmax_subgroup.wgsl", "WG", softmax::WG as f64),
        (
            "softmax_subgroup.wgsl",
            "MASKED_BELOW",
            softmax::MASKED_BELOW as f64,
        ),
        ("flash.wgsl", "WG", flash::WG as f64),
        ("flash.wgsl", "CHUNK", flash::CHUNK as f64),
        ("flash.wgsl", "Q_CACHE", flash::Q_CACHE as f64),
        ("flash.wgsl", "MASKED_BELOW", softmax::MASKED_BELOW as f64),
        ("flash_tiled.wgsl", "WG", flash::TILED_WG as f64),
        ("flash_tiled.wgsl", "BR", flash::TILED_ROWS as f64),
        ("flash_tiled.wgsl", "BC", flash::TILED_KEYS as f64),
        ("flash_tiled.wgsl", "COLS", flash::CHUNK as f64),
        ("flash_tiled.wgsl", "DC", flash::TILED_SLICE as f64),
        (
            "flash_tiled.wgsl",
            "MASKED_BELOW",
            softmax::MASKED_BELOW as f64,
        ),
        (
            "attention_weights.wgsl",
            "WG_X",
            attention_weights::WG as f64,
        ),
        (
            "attention_weights.wgsl",
            "WG_Y",
            attention_weights::WG as f64,
        ),
        (
            "attention_weights.wgsl",
            "TILE",
            attention_weights::TILE as f64,
        ),
        ("attention_weights.wgsl", "CHUNK", flash::CHUNK as f64),
        ("flash_shuffle.wgsl", "WG", flash::SHUFFLE_WG as f64),
        ("flash_shuffle.wgsl", "ROWS", flash::SHUFFLE_ROWS as f64),
        (
            "flash_shuffle.wgsl",
            "TILE_KEYS",
            flash::SHUFFLE_KEYS as f64,
        ),
        ("flash_shuffle.wgsl", "CHUNK", flash::CHUNK as f64),
        (
            "flash_shuffle.wgsl",
            "MASKED_BELOW",
            softmax::MASKED_BELOW as f64,
        ),
        (
            "attention_weights.wgsl",
            "MASKED_BELOW",
            softmax::MASKED_BELOW as f64,
        ),
    ];
    // flash_shuffle.wgsl's per-lane constants, which have no Rust mirror: its lanes together
    // cover a tile of keys and a chunk of output columns.
    let lanes = shader_constant("flash_shuffle.wgsl", "WG");
    assert_eq!(
        shader_constant("flash_shuffle.wgsl", "KEYS") * lanes,
        shader_constant("flash_shuffle.wgsl", "TILE_KEYS")
    );
    assert_eq!(
        shader_constant("flash_shuffle.wgsl", "COLS") * lanes,
        shader_constant("flash_shuffle.wgsl", "CHUNK")
    );
    for &(file, name, rust) in pairs {
        let wgsl = shader_constant(file, name);
        // Both sides as the f32 the shader computes with (exact for the u32 sizes here).
        assert_eq!(
            wgsl as f32, rust as f32,
            "{file}: {name} = {wgsl}, but the Rust mirror says {rust}"
        );
    }
}

/// shaders/shared/ and the table `#import` resolves from are the same set of modules, each one
/// a module naga accepts on its own (with the modules it imports).
#[test]
fn shared_modules_are_all_registered_and_parse() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("shaders/shared");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("shaders/shared/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wgsl"))
        .map(|p| p.file_stem().unwrap().to_str().unwrap().to_string())
        .collect();
    on_disk.sort();
    let mut registered: Vec<String> = selfattn::shader_source::SHARED
        .iter()
        .map(|(name, _)| name.to_string())
        .collect();
    registered.sort();
    assert_eq!(
        on_disk, registered,
        "shaders/shared/ vs shader_source::SHARED"
    );
    for name in &registered {
        let path = dir.join(format!("{name}.wgsl"));
        let committed = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            Some(committed.as_str()),
            selfattn::shader_source::shared(name),
            "{name}: the embedded copy is the file"
        );
        let source = expanded(&path).unwrap();
        naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{}", e.emit_to_string_with_path(&source, name)));
    }
}

/// The rules the shared modules exist for: no struct is written in two committed WGSL files, and
/// no committed shader is a wall of unrolled text (the generator's `#for` writes those).
#[test]
fn no_struct_is_written_twice_and_no_shader_is_huge() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files = shader_files();
    files.extend(
        std::fs::read_dir(root.join("shared"))
            .unwrap()
            .map(|e| e.unwrap().path()),
    );
    let mut declared: std::collections::HashMap<String, PathBuf> = Default::default();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let lines = text.lines().count();
        assert!(lines <= 600, "{}: {lines} lines", path.display());
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("struct ") else {
                continue;
            };
            let name = rest.split([' ', '{']).next().unwrap().to_string();
            if let Some(first) = declared.insert(name.clone(), path.clone()) {
                panic!(
                    "struct {name} is written in {} and {}",
                    first.display(),
                    path.display()
                );
            }
        }
    }
}

/// The unrolled kernels are templates over their row count: written out for other values of
/// ROWS they are still valid shaders with as many accumulators (a tuner can vary it).
#[test]
fn unrolled_kernels_expand_for_other_row_counts() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("shaders");
    for (file, rows, accumulator) in [
        ("flash_shuffle.wgsl", [8, 16, 64], "var acc{}l ="),
        ("matmul_shuffle.wgsl", [8, 16, 64], "var acc{}l ="),
    ] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        assert!(text.contains("const ROWS = 32u;"), "{file} declares ROWS");
        for n in rows {
            let varied = text.replace("const ROWS = 32u;", &format!("const ROWS = {n}u;"));
            let source = selfattn::shader_source::expand(&varied).unwrap();
            let last = accumulator.replace("{}", &(n - 1).to_string());
            let past = accumulator.replace("{}", &n.to_string());
            assert!(source.contains(&last), "{file}, ROWS = {n}: no {last}");
            assert!(!source.contains(&past), "{file}, ROWS = {n}: has {past}");
            let module = naga::front::wgsl::parse_str(&source)
                .unwrap_or_else(|e| panic!("{file}, ROWS = {n}: {}", e.emit_to_string(&source)));
            let mut validator = Validator::new(ValidationFlags::all(), Capabilities::SUBGROUP);
            validator
                .subgroup_stages(naga::valid::ShaderStages::COMPUTE)
                .subgroup_operations(naga::valid::SubgroupOperationSet::all());
            validator
                .validate(&module)
                .unwrap_or_else(|e| panic!("{file}, ROWS = {n}: {}", e.emit_to_string(&source)));
        }
    }
}

/// Every variant combination a device can be given.
fn all_variants() -> Vec<selfattn::kernels::Variants> {
    use selfattn::kernels::{
        Variants, flash::FlashVariant, matmul::MatmulVariant, softmax::SoftmaxVariant,
    };
    let mut all = Vec::new();
    for matmul in MatmulVariant::ALL {
        for flash in FlashVariant::ALL {
            for softmax in SoftmaxVariant::ALL {
                all.push(Variants {
                    matmul,
                    flash,
                    softmax,
                });
            }
        }
    }
    all
}

#[test]
fn every_registered_kernel_binds_what_its_wgsl_declares() {
    use selfattn::kernels::{Binding, REGISTRY};
    for variants in all_variants() {
        let specs: Vec<_> = REGISTRY.iter().map(|spec| spec(&variants)).collect();
        let mut names: Vec<_> = specs.iter().map(|s| s.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(
            names.len(),
            specs.len(),
            "two registered kernels share a name"
        );
        for spec in specs {
            let source = selfattn::shader_source::expand(spec.source).unwrap();
            let module = naga::front::wgsl::parse_str(&source)
                .unwrap_or_else(|e| panic!("{}: {e}", spec.label));
            assert!(
                module.entry_points.iter().any(|e| e.name == spec.entry),
                "{}: no entry point {}",
                spec.label,
                spec.entry
            );
            let mut declared: Vec<(u32, Binding)> = module
                .global_variables
                .iter()
                .filter_map(|(_, g)| {
                    let b = g.binding.as_ref()?;
                    assert_eq!(b.group, 0, "{}: bind group {}", spec.label, b.group);
                    let kind = match g.space {
                        naga::AddressSpace::Uniform => Binding::Uniform,
                        naga::AddressSpace::Storage { access }
                            if access.contains(naga::StorageAccess::STORE) =>
                        {
                            Binding::ReadWrite
                        }
                        naga::AddressSpace::Storage { .. } => Binding::ReadOnly,
                        other => panic!("{}: binding in {other:?}", spec.label),
                    };
                    Some((b.binding, kind))
                })
                .collect();
            declared.sort_by_key(|(i, _)| *i);
            // The params uniform is the Rust mirror's size, a whole number of 16-byte rows.
            let uniform_size = module
                .global_variables
                .iter()
                .find(|(_, g)| g.space == naga::AddressSpace::Uniform)
                .map(|(_, g)| match &module.types[g.ty].inner {
                    naga::TypeInner::Struct { span, .. } => *span as usize,
                    other => panic!("{}: the uniform is not a struct: {other:?}", spec.label),
                })
                .unwrap_or_else(|| panic!("{}: no params uniform", spec.label));
            assert_eq!(
                (uniform_size, spec.params_size % 16),
                (spec.params_size, 0),
                "{}: WGSL params struct vs Rust's KernelSpec::params_size (and its 16-byte \
                 padding)",
                spec.label
            );
            let expected: Vec<(u32, Binding)> = spec
                .bindings()
                .into_iter()
                .enumerate()
                .map(|(i, b)| (i as u32, b))
                .collect();
            assert_eq!(
                declared, expected,
                "{} ({}): the WGSL's bindings differ from its KernelSpec",
                spec.label, spec.name
            );
        }
    }
}
