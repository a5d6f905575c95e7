//! `fleeet inventory sync`: write `inventory/` from the Cluster API clusters of a management
//! cluster.

use clap::{Args, Subcommand};

use super::status::KubeArgs;
use super::{FleetArg, Format};
use crate::Error;
use crate::inventory::{FOLDER, Scope};
use crate::load::{FLEET_FILE, FleetFiles};

#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// Write inventory/ from the Cluster API clusters of a management cluster.
    #[command(
        after_help = "Each Cluster API cluster becomes inventory/<name>.yaml (kind: Cluster) with its labels,\nthe annotations listed in spec.inventory.annotations, facts (Cluster API namespace, name\nand uid, Kubernetes version, class, control plane endpoint, phase, readiness) and the values\nof the ConfigMap named by spec.inventory.valuesConfigMap. Files of clusters no longer listed\nare removed; unchanged files are not rewritten; clusters/ is never touched. Nothing is\nwritten unless every cluster could be read. Run it with the same selection every time: the\ninventory is exactly what it lists.\n\nExamples:\n  fleeet inventory sync --fleet ./fleet --all-namespaces\n  fleeet inventory sync --kubeconfig mgmt.yaml --namespace fleet-prod --selector env=prod"
    )]
    Sync(SyncArgs),
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub fleet: FleetArg,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Only the clusters of this namespace (default: the namespace of the kubeconfig context).
    #[arg(
        long,
        short = 'n',
        value_name = "NS",
        conflicts_with = "all_namespaces"
    )]
    pub namespace: Option<String>,
    /// The clusters of every namespace.
    #[arg(long, short = 'A')]
    pub all_namespaces: bool,
    /// Only the clusters whose labels match, like `env=prod,tier!=edge`.
    #[arg(long, short = 'l', value_name = "LABELS")]
    pub selector: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub fn inventory(command: InventoryCommand) -> anyhow::Result<()> {
    match command {
        InventoryCommand::Sync(args) => sync(args),
    }
}

fn sync(args: SyncArgs) -> anyhow::Result<()> {
    let dir = &args.fleet.fleet;
    // fleet.yaml and the hand-written clusters (which spec.management may name), but not the
    // modules: a broken module must not stop the inventory from following Cluster API.
    let all = FleetFiles::read_dir(dir)?;
    let mut only_fleet = FleetFiles::new(all.display_root.clone());
    for (path, text) in &all.files {
        if path == FLEET_FILE || path.starts_with("clusters/") {
            only_fleet.insert(path.clone(), text.clone());
        }
    }
    let fleet = crate::load::load(&only_fleet).map_err(Error::from)?;
    let settings = &fleet.spec.inventory;
    let health = &fleet.spec.health;
    let runtime = crate::kubernetes::runtime()?;
    let (scope, listing) = runtime.block_on(async {
        let management =
            crate::kubernetes::connect(&args.kube.target(), health.timeout.to_std()).await?;
        let scope = Scope {
            namespace: match (&args.namespace, args.all_namespaces) {
                (_, true) => None,
                (Some(ns), false) => Some(ns.clone()),
                (None, false) => Some(management.namespace.clone()),
            },
            selector: args.selector.clone(),
        };
        let listing = crate::inventory::read(
            &management.client,
            &scope,
            settings,
            &fleet.file,
            health.concurrency.get() as usize,
        )
        .await?;
        Ok::<_, Error>((scope, listing))
    })?;
    let files = crate::inventory::files(
        &listing.clusters,
        &listing.config_maps,
        settings,
        &fleet.file,
    )
    .map_err(Error::from)?;

    // The new inventory must load before it is written.
    let mut check = only_fleet.clone();
    for (path, text) in &files {
        check.insert(format!("{FOLDER}/{path}"), text.to_string());
    }
    crate::load::load(&check).map_err(Error::from)?;

    let summary = crate::inventory::write(dir, &files)?;
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "apiVersion": listing.api_version,
                "scope": scope.to_string(),
                "clusters": files.len(),
                "written": summary.written,
                "unchanged": summary.unchanged,
                "removed": summary.removed,
            }))?
        ),
        Format::Text => eprintln!(
            "synced {} clusters ({}, {scope}) into {}: {} written, {} unchanged, {} removed",
            files.len(),
            listing.api_version,
            dir.join(FOLDER).display(),
            summary.written,
            summary.unchanged,
            summary.removed
        ),
    }
    Ok(())
}
