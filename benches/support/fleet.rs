//! A synthetic fleet repository, deterministic from a seed: clusters as `fleeet inventory sync`
//! writes them (with a few hand-written overlays), and modules mixing git, OCI and helm sources,
//! label selectors with matchExpressions, templated values, value files, `dependsOn` chains,
//! rollout waves and a BootstrapModule.
//!
//! Shared by the criterion benches, the `synthetic_fleet` example and the integration tests.

use std::collections::BTreeMap;

/// What to generate.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub clusters: usize,
    pub modules: usize,
    pub seed: u64,
    /// How many modules (after the bootstrap module, in order) get their patch version bumped:
    /// the same fleet one merge later.
    pub bump: usize,
}

/// The fleet repository's files, by path from its root.
pub fn generate(shape: &Shape) -> BTreeMap<String, String> {
    let mut rng = Rng::new(shape.seed);
    let mut files = BTreeMap::new();
    files.insert("fleet.yaml".to_string(), FLEET.to_string());
    files.insert(
        "values/ingress-common.yaml".to_string(),
        INGRESS_COMMON.to_string(),
    );
    files.insert(
        "values/substitutions.yaml".to_string(),
        SUBSTITUTIONS.to_string(),
    );
    for i in 0..shape.clusters {
        let cluster = Cluster::random(i, &mut rng);
        files.insert(
            format!("inventory/{}.yaml", cluster.name),
            cluster.inventory(),
        );
        if let Some(overlay) = cluster.overlay() {
            files.insert(format!("clusters/{}.yaml", cluster.name), overlay);
        }
    }
    for i in 0..shape.modules {
        let archetype = &ARCHETYPES[i % ARCHETYPES.len()];
        let round = i / ARCHETYPES.len();
        let version = Version::random(&mut rng).bumped(i >= 1 && i <= shape.bump);
        let name = suffixed(archetype.name, round);
        files.insert(
            format!("modules/{name}.yaml"),
            archetype.document(round, &version),
        );
    }
    files
}

/// SplitMix64: small, fast and good enough for test data.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Whether an event of probability `percent`/100 happens.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `choices`, picked by weight.
    fn weighted<T: Copy>(&mut self, choices: &[(T, u64)]) -> T {
        let total: u64 = choices.iter().map(|(_, w)| w).sum();
        let mut pick = self.below(total);
        for &(choice, weight) in choices {
            if pick < weight {
                return choice;
            }
            pick -= weight;
        }
        choices[choices.len() - 1].0
    }
}

const ENVS: [(&str, u64); 3] = [("prod", 60), ("staging", 15), ("dev", 25)];
const REGIONS: [(&str, u64); 8] = [
    ("us-east-1", 24),
    ("eu-west-1", 20),
    ("us-west-2", 14),
    ("eu-central-1", 12),
    ("ap-southeast-1", 10),
    ("ap-northeast-1", 8),
    ("ca-central-1", 6),
    ("sa-east-1", 6),
];
const TIERS: [(&str, u64); 3] = [("standard", 65), ("edge", 25), ("gpu", 10)];
const PROVIDERS: [(&str, u64); 4] = [("aws", 45), ("gcp", 25), ("azure", 20), ("metal", 10)];
const KUBERNETES: [(&str, u64); 3] = [("v1.33.2", 50), ("v1.32.6", 35), ("v1.31.9", 15)];

struct Cluster {
    name: String,
    env: &'static str,
    region: &'static str,
    tier: &'static str,
    provider: &'static str,
    kubernetes: &'static str,
    store: Option<u64>,
    restricted: bool,
    canary: bool,
    /// Values from the cluster's ConfigMap on the management cluster.
    replicas: Option<u64>,
    /// Hand-written values overlaid on the inventory cluster.
    retention: Option<&'static str>,
    uid: String,
}

impl Cluster {
    fn random(index: usize, rng: &mut Rng) -> Cluster {
        let env = rng.weighted(&ENVS);
        let region = rng.weighted(&REGIONS);
        let tier = rng.weighted(&TIERS);
        let provider = if tier == "edge" {
            "metal"
        } else {
            rng.weighted(&PROVIDERS)
        };
        Cluster {
            name: format!("{env}-{region}-{index:06}"),
            env,
            region,
            tier,
            provider,
            kubernetes: rng.weighted(&KUBERNETES),
            store: (tier == "edge").then(|| 1000 + rng.below(9000)),
            restricted: rng.chance(5),
            canary: env != "dev" && rng.chance(1),
            replicas: rng.chance(30).then(|| 2 + rng.below(4)),
            retention: rng.chance(2).then_some("30d"),
            uid: format!(
                "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                rng.next() as u32,
                rng.next() as u16,
                rng.below(0x1000),
                rng.below(0x1000),
                rng.next() & 0xFFFF_FFFF_FFFF
            ),
        }
    }

    /// `inventory/<name>.yaml`, as Cluster API sync writes it.
    fn inventory(&self) -> String {
        let mut labels = format!(
            "    env: {}\n    provider: {}\n    region: {}\n    tier: {}\n",
            self.env, self.provider, self.region, self.tier
        );
        if let Some(store) = self.store {
            labels.push_str(&format!("    store: \"s{store}\"\n"));
        }
        if self.restricted {
            labels.push_str("    restricted: \"true\"\n");
        }
        let values = match self.replicas {
            Some(n) => format!("  values:\n    ingressReplicas: {n}\n"),
            None => String::new(),
        };
        let namespace = format!("fleet-{}", self.env);
        format!(
            "# Written by `fleeet inventory sync` from Cluster API; do not edit.
apiVersion: fleeet.dev/v1alpha1
kind: Cluster
metadata:
  name: {name}
  labels:
{labels}  annotations:
    cluster.x-k8s.io/managed-by: capi
spec:
{values}  facts:
    clusterAPI:
      namespace: {namespace}
      name: {name}
      uid: {uid}
    kubernetesVersion: {kubernetes}
    class: {tier}-{provider}-v3
    controlPlaneEndpoint:
      host: api.{name}.k8s.example.com
      port: 6443
    phase: Provisioned
    controlPlaneReady: true
    infrastructureReady: true
",
            name = self.name,
            uid = self.uid,
            kubernetes = self.kubernetes,
            tier = self.tier,
            provider = self.provider,
        )
    }

    /// `clusters/<name>.yaml`: canaries and a few clusters with hand-written values.
    fn overlay(&self) -> Option<String> {
        if !self.canary && self.retention.is_none() {
            return None;
        }
        let labels = if self.canary {
            "  labels:\n    canary: \"true\"\n"
        } else {
            ""
        };
        let values = match self.retention {
            Some(retention) => format!("spec:\n  values:\n    retention: {retention}\n"),
            None => String::new(),
        };
        Some(format!(
            "apiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: {}\n{labels}{values}",
            self.name
        ))
    }
}

#[derive(Clone, Copy, Debug)]
struct Version {
    major: u64,
    minor: u64,
    patch: u64,
}

impl Version {
    fn random(rng: &mut Rng) -> Version {
        Version {
            major: rng.below(8),
            minor: rng.below(30),
            patch: rng.below(10),
        }
    }

    fn bumped(self, bump: bool) -> Version {
        Version {
            patch: self.patch + u64::from(bump),
            ..self
        }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

const FLEET: &str = r#"apiVersion: fleeet.dev/v1alpha1
kind: Fleet
metadata:
  name: synthetic
spec:
  output:
    branch: fleeet/rendered
    path: clusters
    namespace: flux-system
    sourceName: fleeet
  values:
    org: acme
    registry: registry.example.com
    baseDomain: fleet.example.com
  rollout:
    bakeTime: 15m
    progressDeadline: 45m
    waves:
      - name: canary
        selector:
          matchLabels:
            canary: "true"
      - name: staging
        selector:
          matchLabels:
            env: staging
      - name: prod-first
        percent: 10
      - name: everyone
"#;

const INGRESS_COMMON: &str = r#"controller:
  image:
    registry: registry.example.com
  metrics:
    enabled: true
  service:
    type: LoadBalancer
  config:
    use-forwarded-headers: "true"
"#;

const SUBSTITUTIONS: &str = r#"log_level: info
image_registry: registry.example.com
"#;

/// Where a module's manifests come from.
#[derive(Clone, Copy)]
enum Kind {
    Git(&'static str),
    Oci,
    Helm(&'static str, &'static str),
}

/// A kind of module; the fleet has one of each (and more rounds of them past 20 modules).
struct Archetype {
    name: &'static str,
    bootstrap: bool,
    kind: Kind,
    /// The `selector:` block, indented under `spec`.
    selector: &'static str,
    /// The `values:` block, if any.
    values: &'static str,
    values_from: &'static [&'static str],
    depends_on: &'static [&'static str],
    /// The `rollout:` block, if the module overrides the fleet's.
    rollout: &'static str,
    extra: &'static str,
}

const ALL: &str = " {}";
const PROD_STAGING: &str = "\n    matchExpressions:\n      - key: env\n        operator: In\n        values: [prod, staging]";
const NOT_EDGE: &str =
    "\n    matchExpressions:\n      - key: tier\n        operator: NotIn\n        values: [edge]";
const STANDARD_PROD_STAGING: &str = "\n    matchLabels:\n      tier: standard\n    matchExpressions:\n      - key: env\n        operator: In\n        values: [prod, staging]";
const STANDARD_PROD: &str = "\n    matchLabels:\n      tier: standard\n      env: prod";
const STORES: &str = "\n    matchExpressions:\n      - key: tier\n        operator: In\n        values: [edge]\n      - key: store\n        operator: Exists";
const DEV_UNRESTRICTED: &str = "\n    matchLabels:\n      env: dev\n    matchExpressions:\n      - key: restricted\n        operator: DoesNotExist";
const GPU: &str =
    "\n    matchExpressions:\n      - key: tier\n        operator: In\n        values: [gpu]";
const PROD: &str = "\n    matchLabels:\n      env: prod";
const EU: &str = "\n    matchExpressions:\n      - key: region\n        operator: In\n        values: [eu-west-1, eu-central-1]";
const CLOUD: &str = "\n    matchExpressions:\n      - key: provider\n        operator: In\n        values: [aws, gcp, azure]";
const CANARIES: &str = "\n    matchExpressions:\n      - key: canary\n        operator: Exists";
const COMPUTE: &str = "\n    matchExpressions:\n      - key: tier\n        operator: In\n        values: [standard, gpu]\n      - key: env\n        operator: NotIn\n        values: [dev]";

const ARCHETYPES: [Archetype; 20] = [
    Archetype {
        name: "platform-base",
        bootstrap: true,
        kind: Kind::Git("v{{ version }}"),
        selector: ALL,
        values: "    cluster_name: \"{{ cluster.name }}\"\n    cluster_env: \"{{ cluster.labels.env }}\"\n    org: \"{{ fleet.values.org }}\"\n",
        values_from: &[],
        depends_on: &[],
        rollout: "",
        extra: "  timeout: 5m\n",
    },
    Archetype {
        name: "cert-manager",
        bootstrap: false,
        kind: Kind::Helm("https://charts.jetstack.io", "cert-manager"),
        selector: ALL,
        values: "    crds:\n      enabled: true\n    global:\n      commonLabels:\n        example.com/cluster: \"{{ cluster.name }}\"\n",
        values_from: &[],
        depends_on: &[],
        rollout: "",
        extra: "  targetNamespace: cert-manager\n  timeout: 10m\n",
    },
    Archetype {
        name: "monitoring",
        bootstrap: false,
        kind: Kind::Oci,
        selector: PROD_STAGING,
        values: "    cluster_name: \"{{ cluster.name }}\"\n    region: \"{{ cluster.labels.region }}\"\n    retention: \"{{ cluster.values.retention | default('15d') }}\"\n",
        values_from: &["values/substitutions.yaml"],
        depends_on: &[],
        rollout: "",
        extra: "  targetNamespace: monitoring\n  substituteFrom:\n    - kind: Secret\n      name: monitoring-remote-write\n",
    },
    Archetype {
        name: "ingress-nginx",
        bootstrap: false,
        kind: Kind::Helm("oci://ghcr.io/example/charts", "ingress-nginx"),
        selector: NOT_EDGE,
        values: "    controller:\n      replicaCount: \"{{ cluster.values.ingressReplicas | default(2) }}\"\n      service:\n        annotations:\n          external-dns.alpha.kubernetes.io/hostname: \"*.{{ cluster.name }}.{{ fleet.values.baseDomain }}\"\n",
        values_from: &["values/ingress-common.yaml"],
        depends_on: &["cert-manager"],
        rollout: "    bakeTime: 30m\n",
        extra: "  targetNamespace: ingress-nginx\n",
    },
    Archetype {
        name: "payments",
        bootstrap: false,
        kind: Kind::Git("{{ version }}"),
        selector: STANDARD_PROD_STAGING,
        values: "    hostname: pay.{{ cluster.name }}.{{ fleet.values.baseDomain }}\n    replicas: \"{{ 3 if cluster.labels.env == 'prod' else 1 }}\"\n",
        values_from: &["values/substitutions.yaml"],
        depends_on: &["ingress-nginx", "monitoring"],
        rollout: "    waves:\n      - name: canary\n        selector:\n          matchLabels:\n            canary: \"true\"\n      - name: staging\n        selector:\n          matchLabels:\n            env: staging\n      - name: prod\n",
        extra: "  targetNamespace: payments\n",
    },
    Archetype {
        name: "store-agent",
        bootstrap: false,
        kind: Kind::Git("agent-{{ version }}"),
        selector: STORES,
        values: "    store_id: \"{{ cluster.labels.store }}\"\n",
        values_from: &[],
        depends_on: &[],
        rollout: "    waves:\n      - name: pilot\n        count: 5\n      - name: all-stores\n",
        extra: "  interval: 30m\n",
    },
    Archetype {
        name: "debug-tools",
        bootstrap: false,
        kind: Kind::Oci,
        selector: DEV_UNRESTRICTED,
        values: "",
        values_from: &[],
        depends_on: &[],
        rollout: "",
        extra: "",
    },
    Archetype {
        name: "external-dns",
        bootstrap: false,
        kind: Kind::Helm(
            "https://kubernetes-sigs.github.io/external-dns",
            "external-dns",
        ),
        selector: NOT_EDGE,
        values: "    domainFilters:\n      - \"{{ cluster.name }}.{{ fleet.values.baseDomain }}\"\n    txtOwnerId: \"{{ cluster.name }}\"\n    provider:\n      name: \"{{ cluster.labels.provider }}\"\n",
        values_from: &[],
        depends_on: &["ingress-nginx"],
        rollout: "",
        extra: "  targetNamespace: external-dns\n",
    },
    Archetype {
        name: "logging",
        bootstrap: false,
        kind: Kind::Oci,
        selector: ALL,
        values: "    cluster_name: \"{{ cluster.name }}\"\n    region: \"{{ cluster.labels.region }}\"\n    env: \"{{ cluster.labels.env }}\"\n",
        values_from: &["values/substitutions.yaml"],
        depends_on: &[],
        rollout: "",
        extra: "  targetNamespace: logging\n",
    },
    Archetype {
        name: "policy-engine",
        bootstrap: false,
        kind: Kind::Helm("https://kyverno.github.io/kyverno", "kyverno"),
        selector: ALL,
        values: "    admissionController:\n      replicas: \"{{ 3 if cluster.labels.env == 'prod' else 1 }}\"\n",
        values_from: &[],
        depends_on: &["cert-manager"],
        rollout: "",
        extra: "  targetNamespace: kyverno\n",
    },
    Archetype {
        name: "gpu-operator",
        bootstrap: false,
        kind: Kind::Helm("https://helm.ngc.nvidia.com/nvidia", "gpu-operator"),
        selector: GPU,
        values: "    driver:\n      enabled: true\n    toolkit:\n      env:\n        - name: CLUSTER\n          value: \"{{ cluster.name }}\"\n",
        values_from: &[],
        depends_on: &["policy-engine"],
        rollout: "    waves:\n      - name: first\n        count: 3\n      - name: rest\n",
        extra: "  targetNamespace: gpu-operator\n",
    },
    Archetype {
        name: "service-mesh",
        bootstrap: false,
        kind: Kind::Helm(
            "https://istio-release.storage.googleapis.com/charts",
            "istiod",
        ),
        selector: PROD_STAGING,
        values: "    global:\n      meshID: \"{{ fleet.values.org }}\"\n      multiCluster:\n        clusterName: \"{{ cluster.name }}\"\n      network: \"{{ cluster.labels.region }}\"\n",
        values_from: &[],
        depends_on: &["cert-manager"],
        rollout: "",
        extra: "  targetNamespace: istio-system\n",
    },
    Archetype {
        name: "backup",
        bootstrap: false,
        kind: Kind::Helm("https://vmware-tanzu.github.io/helm-charts", "velero"),
        selector: PROD,
        values: "    configuration:\n      backupStorageLocation:\n        - name: default\n          bucket: \"backups-{{ cluster.labels.region }}\"\n          prefix: \"{{ cluster.name }}\"\n",
        values_from: &[],
        depends_on: &["service-mesh"],
        rollout: "",
        extra: "  targetNamespace: velero\n",
    },
    Archetype {
        name: "tenant-config",
        bootstrap: false,
        kind: Kind::Git("v{{ version }}"),
        selector: ALL,
        values: "    tenant_domain: \"{{ cluster.name }}.{{ fleet.values.baseDomain }}\"\n    k8s_version: \"{{ cluster.facts.kubernetesVersion }}\"\n",
        values_from: &[],
        depends_on: &["policy-engine"],
        rollout: "",
        extra: "",
    },
    Archetype {
        name: "eu-compliance",
        bootstrap: false,
        kind: Kind::Oci,
        selector: EU,
        values: "    data_residency: \"{{ cluster.labels.region }}\"\n",
        values_from: &[],
        depends_on: &["logging"],
        rollout: "",
        extra: "",
    },
    Archetype {
        name: "cost-agent",
        bootstrap: false,
        kind: Kind::Oci,
        selector: CLOUD,
        values: "    provider: \"{{ cluster.labels.provider }}\"\n    cluster_name: \"{{ cluster.name }}\"\n",
        values_from: &[],
        depends_on: &[],
        rollout: "",
        extra: "  interval: 1h\n",
    },
    Archetype {
        name: "api-gateway",
        bootstrap: false,
        kind: Kind::Git("v{{ version }}"),
        selector: STANDARD_PROD_STAGING,
        values: "    gateway_host: \"api.{{ cluster.name }}.{{ fleet.values.baseDomain }}\"\n",
        values_from: &["values/substitutions.yaml"],
        depends_on: &["payments"],
        rollout: "",
        extra: "  targetNamespace: gateway\n",
    },
    Archetype {
        name: "search",
        bootstrap: false,
        kind: Kind::Helm("https://helm.elastic.co", "elasticsearch"),
        selector: STANDARD_PROD,
        values: "    clusterName: \"search-{{ cluster.name }}\"\n    replicas: \"{{ cluster.values.ingressReplicas | default(3) }}\"\n",
        values_from: &[],
        depends_on: &["api-gateway"],
        rollout: "",
        extra: "  targetNamespace: search\n",
    },
    Archetype {
        name: "canary-probe",
        bootstrap: false,
        kind: Kind::Oci,
        selector: CANARIES,
        values: "    probe_target: \"{{ cluster.name }}\"\n",
        values_from: &[],
        depends_on: &[],
        rollout: "",
        extra: "",
    },
    Archetype {
        name: "node-tuning",
        bootstrap: false,
        kind: Kind::Git("{{ version }}"),
        selector: COMPUTE,
        values: "    tier: \"{{ cluster.labels.tier }}\"\n",
        values_from: &[],
        depends_on: &[],
        rollout: "",
        extra: "  prune: false\n",
    },
];

/// The name of an archetype in its `round` (the first round keeps the plain name).
fn suffixed(name: &str, round: usize) -> String {
    if round == 0 {
        name.to_string()
    } else {
        format!("{name}-{round}")
    }
}

impl Archetype {
    fn document(&self, round: usize, version: &Version) -> String {
        let name = suffixed(self.name, round);
        let kind = if self.bootstrap {
            "BootstrapModule"
        } else {
            "Module"
        };
        let source = match self.kind {
            Kind::Git(tag) => format!(
                "    git:\n      url: https://git.example.com/platform/{}\n      path: ./deploy\n      tag: \"{tag}\"\n",
                self.name
            ),
            Kind::Oci => format!(
                "    oci:\n      url: oci://ghcr.io/example/manifests/{}\n",
                self.name
            ),
            Kind::Helm(repository, chart) => {
                format!("    helm:\n      repository: {repository}\n      chart: {chart}\n")
            }
        };
        let mut doc = format!(
            "apiVersion: fleeet.dev/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\n  labels:\n    team: platform\nspec:\n  version: \"{version}\"\n  source:\n{source}  selector:{}\n",
            self.selector
        );
        if !self.values.is_empty() {
            doc.push_str("  values:\n");
            doc.push_str(self.values);
        }
        if !self.values_from.is_empty() {
            doc.push_str("  valuesFrom:\n");
            for file in self.values_from {
                doc.push_str(&format!("    - {file}\n"));
            }
        }
        if !self.depends_on.is_empty() {
            doc.push_str("  dependsOn:\n");
            for dep in self.depends_on {
                doc.push_str(&format!("    - {}\n", suffixed(dep, round)));
            }
        }
        if !self.rollout.is_empty() {
            doc.push_str("  rollout:\n");
            doc.push_str(self.rollout);
        }
        doc.push_str(self.extra);
        doc
    }
}
