//! The command line: argument parsing and output. Each command loads, calls the core, prints.

mod commands;
mod health;
mod inventory;
mod plan;
mod reconcile;
mod status;

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::{EXIT_FAILURE, Error};

/// Render and roll out per-cluster Flux configuration for a fleet of Kubernetes clusters.
#[derive(Debug, Parser)]
#[command(name = "fleeet", version, about, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

const LONG_ABOUT: &str = "\
Render and roll out per-cluster Flux configuration for a fleet of Kubernetes clusters.

fleeet reads a fleet repository (fleet.yaml, clusters/, inventory/, modules/, values/) and writes
one small pointer file per module and cluster: Flux objects that pin the module's source at a
version, with per-cluster values. Flux on each cluster follows its own folder.";

const AFTER_HELP: &str = "\
Examples:
  fleeet validate --fleet ./fleet
  fleeet render --fleet ./fleet --out /tmp/rendered
  fleeet explain --fleet ./fleet prod-eu-1 ingress
  fleeet bootstrap --fleet ./fleet prod-eu-1 --url https://github.com/acme/fleet";

const RECONCILE_HELP: &str = "\
The token is read from GITHUB_TOKEN (push over HTTPS, and the GitHub API); it is never printed.
Branches come from fleet.yaml: spec.output.branch (the rendered branch) and spec.github.branch
(the pull-request branch). Running twice with nothing new changes nothing.

Examples:
  fleeet reconcile --health health.yaml
  fleeet reconcile --kubeconfig mgmt.kubeconfig --github-repo acme/fleet
  fleeet reconcile --dry-run";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the fleet repository and render it in memory; write nothing.
    #[command(
        after_help = "Examples:\n  fleeet validate --fleet ./fleet\n  fleeet validate --format json"
    )]
    Validate(ValidateArgs),
    /// Render every cluster's pointer files into a directory.
    #[command(
        after_help = "The output directory is replaced as a whole, atomically: it must be new, empty, or an\nearlier fleeet output. Files whose content did not change are kept as they were.\n\nExamples:\n  fleeet render --fleet ./fleet --out /tmp/rendered\n  fleeet render --out /tmp/one --cluster prod-eu-1\n  kubectl kustomize /tmp/rendered/clusters/prod-eu-1"
    )]
    Render(RenderArgs),
    /// Show why modules are (or are not) on a cluster: selector terms, values, version.
    #[command(
        after_help = "Examples:\n  fleeet explain prod-eu-1\n  fleeet explain prod-eu-1 ingress --format json"
    )]
    Explain(ExplainArgs),
    /// Print what a cluster applies once to follow its folder on the rendered branch: the
    /// management cluster (with spec.management it bootstraps every other cluster), or a
    /// cluster it cannot reach.
    #[command(
        after_help = "Examples:\n  fleeet bootstrap mgmt --url https://github.com/acme/fleet | kubectl apply -f -\n  fleeet bootstrap edge-1 --url ssh://git@github.com/acme/fleet --secret-ref fleeet-deploy-key"
    )]
    Bootstrap(BootstrapArgs),
    /// Show (or write) the next rollout step: which wave of which module may advance, and why
    /// others wait.
    #[command(
        after_help = "Examples:\n  fleeet plan --current-dir ./rendered --health health.yaml\n  fleeet plan --current-dir ./rendered --format markdown > body.md\n  fleeet plan --current-dir ./rendered --health health.yaml --write ./next"
    )]
    Plan(plan::PlanArgs),
    /// Propose the next rollout wave: commit it on the pull-request branch and open (or update)
    /// the one fleeet pull request into the rendered branch. Run on every merge and on a schedule.
    #[command(after_help = RECONCILE_HELP)]
    Reconcile(reconcile::ReconcileArgs),
    /// Comment on a fleet pull request the rollout it would start: modules, versions, clusters,
    /// waves, and which clusters go first.
    #[command(
        after_help = "The token is read from GITHUB_TOKEN.\n\nExamples:\n  fleeet preview --pull-request 42\n  fleeet preview --dry-run"
    )]
    Preview(reconcile::PreviewArgs),
    /// Write the JSON Schemas of fleet.yaml, clusters and modules (for editors and CI).
    Schema(SchemaArgs),
    /// Follow the Cluster API clusters of a management cluster in inventory/.
    #[command(subcommand)]
    Inventory(inventory::InventoryCommand),
    /// Read the health of every module on every cluster through the Kubernetes API.
    #[command(
        after_help = "Each cluster's kubeconfig is read from the management cluster (the Secret named by\nspec.health.kubeconfigSecret, default \"{{ name }}-kubeconfig\", key value, in the cluster's\nCluster API namespace, or the cluster's spec.kubeconfigSecret) and kept in memory only.\n\nExamples:\n  fleeet status --fleet ./fleet --kubeconfig mgmt.yaml\n  fleeet status --save health.json\n  fleeet status --shard 3/8 --save health-3.json   # one job of a matrix of 8"
    )]
    Status(status::StatusArgs),
    /// Print the shell completion script of fleeet for a shell.
    #[command(
        after_help = "Examples:\n  fleeet completions bash > ~/.local/share/bash-completion/completions/fleeet\n  fleeet completions zsh > ~/.zfunc/_fleeet       # with fpath+=(~/.zfunc) before compinit\n  fleeet completions fish > ~/.config/fish/completions/fleeet.fish\n  fleeet completions powershell >> $PROFILE"
    )]
    Completions(CompletionsArgs),
    /// Print the man page of fleeet (roff), or write one per command into a folder.
    #[command(
        after_help = "Examples:\n  fleeet man | man -l -\n  fleeet man --out /usr/local/share/man/man1"
    )]
    Man(ManArgs),
}

/// Where the fleet repository is.
#[derive(Debug, Args)]
pub struct FleetArg {
    /// The fleet repository: the folder holding fleet.yaml.
    #[arg(long, short = 'f', value_name = "DIR", default_value = ".")]
    pub fleet: PathBuf,
}

/// How results are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    #[default]
    Text,
    /// For scripts: one JSON document on stdout.
    Json,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub fleet: FleetArg,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub fleet: FleetArg,
    /// The directory to write; it gets `<output.path>/<cluster>/...`.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: PathBuf,
    /// Render only this cluster (repeat for more).
    #[arg(long = "cluster", value_name = "NAME")]
    pub clusters: Vec<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub fleet: FleetArg,
    /// The cluster to explain.
    pub cluster: String,
    /// Only this module (default: every module of the fleet).
    pub module: Option<String>,
    /// Also show each pair's wave and rollout state against this current state.
    #[command(flatten)]
    pub state: plan::StateArgs,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    #[command(flatten)]
    pub fleet: FleetArg,
    /// The cluster, as named in the fleet.
    pub cluster: String,
    /// The URL Flux clones the rendered branch from (https:// or ssh://).
    #[arg(long, value_name = "GIT_URL")]
    pub url: String,
    /// A Secret in the Flux namespace with the credentials for the URL.
    #[arg(long, value_name = "NAME")]
    pub secret_ref: Option<String>,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// The directory to write fleet.json, cluster.json and module.json to.
    #[arg(long, short = 'o', value_name = "DIR", default_value = "schemas")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write fleeet.1 and a page per command (fleeet-render.1, ...) into this folder instead.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => 0,
        Err(error) => report(&error),
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Validate(args) => commands::validate(args),
        Command::Render(args) => commands::render(args),
        Command::Explain(args) => commands::explain(args),
        Command::Bootstrap(args) => commands::bootstrap(args),
        Command::Plan(args) => plan::plan(args),
        Command::Reconcile(args) => reconcile::reconcile(args),
        Command::Preview(args) => reconcile::preview(args),
        Command::Schema(args) => commands::schema(args),
        Command::Inventory(command) => inventory::inventory(command),
        Command::Status(args) => status::status(args),
        Command::Completions(args) => commands::completions(args),
        Command::Man(args) => commands::man(args),
    }
}

/// Leaves a command's data to the operating system rather than freeing it value by value: the
/// process ends right after the command (`main` exits), and freeing a 10,000-cluster render
/// allocation by allocation is a tenth of a `reconcile`. Only for plain data, never for a
/// value whose drop does work (a file, a connection, a temporary folder).
fn leave<T>(value: T) {
    std::mem::forget(value);
}

/// Prints an error (and its hint) to stderr and returns its exit code.
fn report(error: &anyhow::Error) -> i32 {
    let mut stderr = std::io::stderr().lock();
    match error.downcast_ref::<Error>() {
        Some(Error::Invalid(diagnostics)) => {
            let _ = writeln!(stderr, "{diagnostics}");
        }
        Some(e) => {
            let _ = writeln!(stderr, "error: {e}");
            if let Some(hint) = e.hint() {
                let _ = writeln!(stderr, "  hint: {hint}");
            }
        }
        None => {
            let _ = writeln!(stderr, "error: {error:#}");
        }
    }
    error
        .downcast_ref::<Error>()
        .map_or(EXIT_FAILURE, Error::exit_code)
}
