//! An in-process Kubernetes API server speaking the real REST wire format: discovery (`/api`,
//! `/apis`, `/apis/<group>/<version>`), list (with `labelSelector`, `limit`, `continue`, list
//! kinds and `resourceVersion`) and get of the objects it holds, `Status` bodies for errors,
//! bearer-token checks, and injected faults (error statuses, delays, truncated bodies). One
//! server can host many clusters under path prefixes, the way a proxy serves
//! `https://proxy/k8s/clusters/<id>`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

/// A resource a cluster serves.
#[derive(Clone, Debug)]
pub struct Resource {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
}

impl Resource {
    fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

pub const CONFIG_MAPS: Resource = core("ConfigMap", "configmaps");
pub const SECRETS: Resource = core("Secret", "secrets");
pub const NAMESPACES: Resource = Resource {
    namespaced: false,
    ..core("Namespace", "namespaces")
};

const fn core(kind: &'static str, plural: &'static str) -> Resource {
    Resource {
        group: "",
        version: "v1",
        kind,
        plural,
        namespaced: true,
    }
}

/// Cluster API `Cluster` at `version`.
pub const fn capi_clusters(version: &'static str) -> Resource {
    Resource {
        group: "cluster.x-k8s.io",
        version,
        kind: "Cluster",
        plural: "clusters",
        namespaced: true,
    }
}

pub const KUSTOMIZATIONS: Resource = Resource {
    group: "kustomize.toolkit.fluxcd.io",
    version: "v1",
    kind: "Kustomization",
    plural: "kustomizations",
    namespaced: true,
};

pub const HELM_RELEASES: Resource = Resource {
    group: "helm.toolkit.fluxcd.io",
    version: "v2",
    kind: "HelmRelease",
    plural: "helmreleases",
    namespaced: true,
};

pub const GIT_REPOSITORIES: Resource = Resource {
    group: "source.toolkit.fluxcd.io",
    version: "v1",
    kind: "GitRepository",
    plural: "gitrepositories",
    namespaced: true,
};

/// What a request matching a fault gets instead of its answer.
#[derive(Clone, Debug)]
pub enum Fault {
    /// A `Status` error body with this code, reason and message.
    Status(u16, &'static str, String),
    /// The answer, after a delay.
    Delay(Duration),
    /// The answer's first half only (a 200 whose JSON is cut short).
    Truncate,
}

/// The state of one fake cluster: what it serves and holds.
#[derive(Default)]
struct State {
    resources: Vec<Resource>,
    /// Preferred version by group.
    preferred: BTreeMap<String, String>,
    /// By apiVersion, kind, namespace and name: a get is one lookup, even among 10,000 Secrets.
    objects: BTreeMap<Identity, Value>,
    /// Faults by a substring of the request path (with query).
    faults: Vec<(String, Fault)>,
    token: Option<String>,
    resource_version: u64,
    /// Request paths, in order.
    log: Vec<String>,
}

/// One fake cluster. Cheap to clone; clones share the state.
#[derive(Clone, Default)]
pub struct FakeCluster {
    state: Arc<Mutex<State>>,
}

impl FakeCluster {
    /// A cluster serving the core resources.
    pub fn new() -> Self {
        let cluster = FakeCluster::default();
        cluster.serve(CONFIG_MAPS, true);
        cluster.serve(SECRETS, true);
        cluster.serve(NAMESPACES, true);
        cluster
    }

    /// Serves `resource`; `preferred` makes its version the preferred one of its group.
    pub fn serve(&self, resource: Resource, preferred: bool) -> &Self {
        let mut state = self.state.lock().unwrap();
        if preferred || !state.preferred.contains_key(resource.group) {
            state
                .preferred
                .insert(resource.group.to_string(), resource.version.to_string());
        }
        state.resources.push(resource);
        self
    }

    /// Adds (or replaces, by apiVersion, kind, namespace and name) an object.
    pub fn put(&self, mut object: Value) -> &Self {
        let mut state = self.state.lock().unwrap();
        state.resource_version += 1;
        object["metadata"]["resourceVersion"] = json!(state.resource_version.to_string());
        state.objects.insert(identity(&object), object);
        self
    }

    /// Removes the object of this kind, namespace and name.
    pub fn delete(&self, kind: &str, namespace: &str, name: &str) {
        let mut state = self.state.lock().unwrap();
        state.objects.retain(|_, o| {
            !(o["kind"] == kind
                && o["metadata"]["namespace"] == namespace
                && o["metadata"]["name"] == name)
        });
    }

    /// Answers requests whose path contains `path` with `fault`.
    pub fn fault(&self, path: &str, fault: Fault) -> &Self {
        self.state
            .lock()
            .unwrap()
            .faults
            .push((path.to_string(), fault));
        self
    }

    /// Removes every fault.
    pub fn heal(&self) {
        self.state.lock().unwrap().faults.clear();
    }

    /// Requires `Authorization: Bearer <token>` on every request.
    pub fn require_token(&self, token: &str) -> &Self {
        self.state.lock().unwrap().token = Some(token.to_string());
        self
    }

    /// The paths requested so far.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    fn answer(
        &self,
        path_and_query: &str,
        authorization: Option<&str>,
    ) -> (u16, String, Option<Fault>) {
        let mut state = self.state.lock().unwrap();
        state.log.push(path_and_query.to_string());
        if let Some(token) = &state.token
            && authorization != Some(&format!("Bearer {token}"))
        {
            return status(401, "Unauthorized", "Unauthorized".into());
        }
        let fault = state
            .faults
            .iter()
            .find(|(p, _)| path_and_query.contains(p.as_str()))
            .map(|(_, f)| f.clone());
        if let Some(Fault::Status(code, reason, message)) = &fault {
            let (code, body, _) = status(*code, reason, message.clone());
            return (code, body, None);
        }
        let (code, body) = route(&state, path_and_query);
        (code, body, fault)
    }
}

/// What tells objects apart: apiVersion, kind, namespace (empty if none) and name.
type Identity = (String, String, String, String);

fn identity(object: &Value) -> Identity {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
    (
        text(&object["apiVersion"]),
        text(&object["kind"]),
        text(&object["metadata"]["namespace"]),
        text(&object["metadata"]["name"]),
    )
}

fn status(code: u16, reason: &str, message: String) -> (u16, String, Option<Fault>) {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code,
    });
    (code, body.to_string(), None)
}

fn not_found(message: String, details: Value) -> (u16, String) {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": "NotFound",
        "details": details, "code": 404,
    });
    (404, body.to_string())
}

fn route(state: &State, path_and_query: &str) -> (u16, String) {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let query: BTreeMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let missing = || {
        not_found(
            "the server could not find the requested resource".into(),
            json!({}),
        )
    };
    let (group, version, rest) = match parts.as_slice() {
        ["api"] => {
            return (200, json!({
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]
            }).to_string());
        }
        ["apis"] => return (200, group_list(state).to_string()),
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return missing(),
    };
    let served: Vec<&Resource> = state
        .resources
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if served.is_empty() {
        return missing();
    }
    let (namespace, plural, name) = match rest {
        [] => return (200, resource_list(group, version, &served).to_string()),
        ["namespaces", ns, plural] => (Some(*ns), *plural, None),
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name)),
        [plural] => (None, *plural, None),
        [plural, name] => (None, *plural, Some(*name)),
        _ => return missing(),
    };
    let Some(resource) = served.iter().find(|r| r.plural == plural) else {
        return missing();
    };
    let api_version = resource.api_version();
    if let Some(name) = name {
        let key = (
            api_version.clone(),
            resource.kind.to_string(),
            namespace.unwrap_or_default().to_string(),
            name.to_string(),
        );
        return match state.objects.get(&key) {
            Some(object) => (200, object.to_string()),
            None => not_found(
                format!(
                    "{plural}{} \"{name}\" not found",
                    if group.is_empty() {
                        String::new()
                    } else {
                        format!(".{group}")
                    }
                ),
                json!({"name": name, "group": group, "kind": plural}),
            ),
        };
    }
    let matching = state.objects.values().filter(|o| {
        o["apiVersion"] == api_version.as_str()
            && o["kind"] == resource.kind
            && namespace.is_none_or(|ns| o["metadata"]["namespace"] == ns)
    });
    let selector = query.get("labelSelector").map(String::as_str).unwrap_or("");
    let mut items: Vec<Value> = matching
        .filter(|o| selects(selector, &o["metadata"]["labels"]))
        .cloned()
        .collect();
    items.sort_by_key(|o| {
        (
            o["metadata"]["namespace"].to_string(),
            o["metadata"]["name"].to_string(),
        )
    });
    if group.is_empty() {
        // Lists of built-in kinds do not repeat apiVersion and kind on their items.
        for item in &mut items {
            if let Some(map) = item.as_object_mut() {
                map.remove("apiVersion");
                map.remove("kind");
            }
        }
    }
    let start: usize = query
        .get("continue")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(usize::MAX);
    let end = start.saturating_add(limit).min(items.len());
    let mut metadata = json!({"resourceVersion": state.resource_version.to_string()});
    if end < items.len() {
        metadata["continue"] = json!(end.to_string());
        metadata["remainingItemCount"] = json!(items.len() - end);
    }
    let list = json!({
        "apiVersion": api_version,
        "kind": format!("{}List", resource.kind),
        "metadata": metadata,
        "items": items.get(start..end).unwrap_or_default(),
    });
    (200, list.to_string())
}

fn group_list(state: &State) -> Value {
    let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in state.resources.iter().filter(|r| !r.group.is_empty()) {
        let versions = groups.entry(r.group).or_default();
        if !versions.contains(&r.version) {
            versions.push(r.version);
        }
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(group, versions)| {
            let preferred = &state.preferred[group];
            json!({
                "name": group,
                "versions": versions.iter().map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v})).collect::<Vec<_>>(),
                "preferredVersion": {"groupVersion": format!("{group}/{preferred}"), "version": preferred},
            })
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn resource_list(group: &str, version: &str, served: &[&Resource]) -> Value {
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let mut resources = Vec::new();
    for r in served {
        resources.push(json!({
            "name": r.plural, "singularName": r.kind.to_lowercase(), "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        }));
        resources.push(json!({
            "name": format!("{}/status", r.plural), "singularName": "", "namespaced": r.namespaced,
            "kind": r.kind, "verbs": ["get", "patch", "update"],
        }));
    }
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}

/// Whether `labels` match a selector like `a=b,c!=d,e,!f` (the subset of the syntax tests use).
fn selects(selector: &str, labels: &Value) -> bool {
    selector.split(',').filter(|t| !t.is_empty()).all(|term| {
        if let Some((k, v)) = term.split_once("!=") {
            labels[k] != v
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            labels[k] == v
        } else if let Some(k) = term.strip_prefix('!') {
            labels[k].is_null()
        } else {
            !labels[term].is_null()
        }
    })
}

/// A running server hosting fake clusters under path prefixes.
pub struct Server {
    pub addr: SocketAddr,
}

impl Server {
    /// Serves `cluster` at the root of a new port.
    pub fn start(cluster: &FakeCluster) -> Server {
        Server::start_many(vec![(String::new(), cluster.clone())])
    }

    /// Serves each cluster under its path prefix (like `/clusters/7`) on one new port.
    pub fn start_many(clusters: Vec<(String, FakeCluster)>) -> Server {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let clusters = Arc::new(clusters);
        runtime().spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let clusters = clusters.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        handle(clusters.clone(), request)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Server { addr }
    }

    /// The URL of the server (append a cluster's prefix when hosting several).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn handle(
    clusters: Arc<Vec<(String, FakeCluster)>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let found = clusters
        .iter()
        .find(|(prefix, _)| path_and_query.starts_with(&format!("{prefix}/")));
    let Some((prefix, cluster)) = found else {
        return Ok(respond(404, Bytes::from_static(b"404 page not found")));
    };
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let (code, body, fault) = cluster.answer(&path_and_query[prefix.len()..], authorization);
    match fault {
        Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::Truncate) => {
            let half = body.len() / 2;
            return Ok(respond(code, Bytes::from(body).slice(..half)));
        }
        _ => {}
    }
    Ok(respond(code, Bytes::from(body)))
}

fn respond(code: u16, body: Bytes) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .header("audit-id", "00000000-0000-0000-0000-000000000000")
        .body(Full::new(body))
        .unwrap()
}

/// The runtime every fake server of the test process runs on.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// A port on which nothing listens.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
