//! One function per command: load, call the core, print.

use std::path::Path;

use anyhow::Context;

use super::{
    BootstrapArgs, CompletionsArgs, ExplainArgs, Format, ManArgs, RenderArgs, SchemaArgs,
    ValidateArgs,
};
use crate::load::{FleetFiles, closest};
use crate::model::Fleet;
use crate::render::{Rendered, Renderer, Texts};
use crate::{Error, report, template, write};

pub(super) fn load(dir: &Path) -> Result<Fleet, Error> {
    let files = FleetFiles::read_dir(dir)?;
    Ok(crate::load::load(&files)?)
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `n` things, in the singular when there is one.
pub(super) fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

fn pointer_count(rendered: &Rendered) -> usize {
    rendered.clusters.values().map(|m| m.len()).sum()
}

pub fn validate(args: ValidateArgs) -> anyhow::Result<()> {
    let fleet = load(&args.fleet.fleet)?;
    let rendered = crate::render::render(&fleet).map_err(Error::from)?;
    let summary = serde_json::json!({
        "fleet": fleet.name,
        "clusters": fleet.clusters.len(),
        "modules": fleet.modules.len(),
        "pointers": pointer_count(&rendered),
    });
    match args.format {
        Format::Json => print_json(&summary),
        Format::Text => {
            println!(
                "fleet {:?} is valid: {}, {}, {}",
                fleet.name,
                count(fleet.clusters.len(), "cluster"),
                count(fleet.modules.len(), "module"),
                count(pointer_count(&rendered), "pointer")
            );
            Ok(())
        }
    }
}

pub fn render(args: RenderArgs) -> anyhow::Result<()> {
    let fleet = load(&args.fleet.fleet)?;
    for name in &args.clusters {
        cluster_index(&fleet, name)?;
    }
    let env = template::sandbox();
    let renderer = Renderer::new(&fleet, &env).map_err(Error::from)?;
    let rendered = if args.clusters.is_empty() {
        renderer.render_all()
    } else {
        renderer.render_clusters(|name| args.clusters.iter().any(|c| c == name), Texts::Keep)
    }
    .map_err(Error::from)?;
    let files = renderer.layout().files(&rendered);
    let summary = write::write_dir(&args.out, &files)?;
    let printed = match args.format {
        Format::Json => print_json(&serde_json::json!({
            "out": args.out,
            "clusters": rendered.clusters.len(),
            "pointers": pointer_count(&rendered),
            "files": files.len(),
            "written": summary.written,
            "unchanged": summary.unchanged,
            "removed": summary.removed,
        })),
        Format::Text => {
            eprintln!(
                "rendered {}, {} into {} ({} files written, {} unchanged, {} removed)",
                count(rendered.clusters.len(), "cluster"),
                count(pointer_count(&rendered), "pointer"),
                args.out.display(),
                summary.written,
                summary.unchanged,
                summary.removed
            );
            Ok(())
        }
    };
    super::leave((files, rendered));
    super::leave(renderer);
    super::leave(fleet);
    printed
}

pub fn explain(args: ExplainArgs) -> anyhow::Result<()> {
    let fleet = load(&args.fleet.fleet)?;
    let c = cluster_index(&fleet, &args.cluster)?;
    let m = match &args.module {
        Some(name) => Some(fleet.module_index(name).ok_or_else(|| {
            not_found(
                "module",
                name,
                fleet.modules.iter().map(|m| m.name.as_str()),
            )
        })?),
        None => None,
    };
    let env = template::sandbox();
    let renderer = Renderer::new(&fleet, &env).map_err(Error::from)?;
    let plan = match (&args.state.current_dir, &args.state.current) {
        (None, None) => None,
        _ => Some(super::plan::plan_step(
            &renderer,
            &args.fleet.fleet,
            &args.state,
            args.state.health.start(),
        )?),
    };
    let explanation =
        crate::explain::explain(&renderer, c, m, plan.as_ref()).map_err(Error::from)?;
    match args.format {
        Format::Json => print_json(&explanation),
        Format::Text => {
            print!("{}", report::explain_text(&explanation));
            Ok(())
        }
    }
}

pub fn bootstrap(args: BootstrapArgs) -> anyhow::Result<()> {
    let fleet = load(&args.fleet.fleet)?;
    cluster_index(&fleet, &args.cluster)?;
    if !["https://", "http://", "ssh://"]
        .iter()
        .any(|s| args.url.starts_with(s))
    {
        return Err(Error::usage(
            format!("--url {:?} is not a URL Flux can clone", args.url),
            "use https://host/org/repo or ssh://git@host/org/repo",
        )
        .into());
    }
    print!(
        "{}",
        crate::bootstrap::objects(&fleet, &args.cluster, &args.url, args.secret_ref.as_deref())
    );
    Ok(())
}

pub fn schema(args: SchemaArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    for (name, text) in crate::schema::schemas() {
        let path = args.out.join(name);
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

pub fn completions(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut command = <super::Cli as clap::CommandFactory>::command();
    clap_complete::generate(args.shell, &mut command, "fleeet", &mut std::io::stdout());
    Ok(())
}

pub fn man(args: ManArgs) -> anyhow::Result<()> {
    let command = <super::Cli as clap::CommandFactory>::command();
    match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            clap_mangen::generate_to(command, dir).map_err(|e| Error::io(dir, e))?;
            eprintln!("wrote the man pages into {}", dir.display());
        }
        None => clap_mangen::Man::new(command).render(&mut std::io::stdout())?,
    }
    Ok(())
}

fn cluster_index(fleet: &Fleet, name: &str) -> Result<usize, Error> {
    fleet
        .clusters
        .binary_search_by(|c| c.name.as_str().cmp(name))
        .map_err(|_| {
            not_found(
                "cluster",
                name,
                fleet.clusters.iter().map(|c| c.name.as_str()),
            )
        })
}

fn not_found<'a>(what: &str, name: &str, names: impl Iterator<Item = &'a str> + Clone) -> Error {
    let hint = match closest(name, names.clone()) {
        Some(close) => format!("did you mean {close:?}?"),
        None => {
            let all: Vec<&str> = names.take(10).collect();
            format!("the fleet has: {}", all.join(", "))
        }
    };
    Error::usage(format!("the fleet has no {what} {name:?}"), hint)
}
