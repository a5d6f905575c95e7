//! A fake GitHub REST API for one repository: an in-process HTTP/1.1 server that keeps branches,
//! pull requests, reviews and comments, answers with GitHub's payload shapes (so the real
//! octocrab client decodes them), and records every request.
//!
//! Faults are injected with [`FakeGitHub::fail`]; a concurrent run opening the pull request
//! first with [`FakeGitHub::race_on_create`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// The only token the fake accepts.
pub const TOKEN: &str = "ghp_fakeTokenSecret0123456789abcdef";
/// The repository the fake holds.
pub const REPO: &str = "acme/fleet";
/// The user the token belongs to: the author of what the client creates.
pub const BOT: &str = "fleeet-bot";

const OWNER: &str = "acme";
const HTML: &str = "https://github.example";
const CREATED_AT: &str = "2026-01-05T10:00:00Z";

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query, without the API URL's path prefix.
    pub path: String,
    /// The JSON body (`Null` when there is none).
    pub body: Value,
    /// The status the fake answered.
    pub status: u16,
    /// Whether it carried `Authorization: Bearer TOKEN`.
    pub authorized: bool,
}

impl Recorded {
    /// `METHOD /path` without the query, for compact assertions.
    pub fn line(&self) -> String {
        let path = self.path.split('?').next().unwrap_or_default();
        format!("{} {path}", self.method)
    }
}

/// A pull request as the fake keeps it.
#[derive(Clone, Debug)]
pub struct Pull {
    pub number: u64,
    pub open: bool,
    pub title: String,
    pub body: Option<String>,
    pub head: String,
    pub base: String,
    pub author: String,
    pub labels: Vec<String>,
    pub requested_reviewers: Vec<String>,
    pub requested_teams: Vec<String>,
    /// What a single read says once decided; `None` until then.
    pub mergeable: Option<bool>,
    pub mergeable_state: String,
    /// Reads of the pull request that still answer `mergeable: null`.
    pub undecided_reads: u32,
    pub merge_commit_sha: Option<String>,
}

/// An answer given instead of the real one, to requests matching `method` (`*` for any) and
/// whose path contains `path_contains`, `times` times.
#[derive(Clone, Debug)]
pub struct Fault {
    pub method: String,
    pub path_contains: String,
    pub times: u32,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

#[derive(Clone, Debug)]
struct Comment {
    id: u64,
    issue: u64,
    author: String,
    body: String,
}

#[derive(Clone, Debug)]
struct Review {
    id: u64,
    pull: u64,
    author: String,
    commit: String,
}

#[derive(Default)]
struct State {
    /// The API URL, with its path prefix.
    api: String,
    prefix: String,
    branches: BTreeMap<String, String>,
    pulls: Vec<Pull>,
    comments: Vec<Comment>,
    reviews: Vec<Review>,
    faults: Vec<Fault>,
    /// Opened by "another run" just before the next create.
    race: Option<(String, String, String)>,
    /// A branch pushed to just before the next merge: `(branch, sha)`.
    push_before_merge: Option<(String, String)>,
    requests: Vec<Recorded>,
    next_id: u64,
    /// A git repository whose branches the fake takes as its own before each request.
    mirror: Option<std::path::PathBuf>,
}

/// The running fake; it stops when dropped.
pub struct FakeGitHub {
    state: Arc<Mutex<State>>,
    server: JoinHandle<()>,
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeGitHub {
    /// A fake at the root of its URL, like api.github.com.
    pub async fn start() -> FakeGitHub {
        FakeGitHub::start_at("").await
    }

    /// A fake under `/api/v3`, like GitHub Enterprise Server.
    pub async fn start_enterprise() -> FakeGitHub {
        FakeGitHub::start_at("/api/v3").await
    }

    async fn start_at(prefix: &str) -> FakeGitHub {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            api: format!("http://{address}{prefix}"),
            prefix: prefix.to_owned(),
            next_id: 1000,
            ..State::default()
        }));
        let server = tokio::spawn(serve(listener, state.clone()));
        FakeGitHub { state, server }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// The API URL to give the client.
    pub fn api_url(&self) -> String {
        self.state().api.clone()
    }

    /// Points branch `name` at commit `sha` (creating it).
    pub fn set_branch(&self, name: &str, sha: &str) {
        self.state().branches.insert(name.into(), sha.into());
    }

    /// Takes the branches of the git repository at `repo` as the fake's own, before every
    /// request: the pushes a run makes are what the fake's pull requests see.
    pub fn mirror_branches(&self, repo: &std::path::Path) {
        self.state().mirror = Some(repo.to_path_buf());
    }

    /// The commit branch `name` points at.
    pub fn branch(&self, name: &str) -> Option<String> {
        self.state().branches.get(name).cloned()
    }

    /// Opens a pull request as if someone did earlier (no request is recorded); its number.
    pub fn open_pull(&self, head: &str, base: &str, title: &str, body: &str) -> u64 {
        let mut state = self.state();
        state.insert_pull(head, base, title, Some(body.into()), BOT)
    }

    /// Pull request `number` as the fake holds it.
    pub fn pull(&self, number: u64) -> Pull {
        let state = self.state();
        state
            .pulls
            .iter()
            .find(|p| p.number == number)
            .unwrap()
            .clone()
    }

    /// Every pull request, open or closed.
    pub fn pulls(&self) -> Vec<Pull> {
        self.state().pulls.clone()
    }

    /// Changes pull request `number` in place (mergeability, reviewers, ...).
    pub fn edit_pull(&self, number: u64, edit: impl FnOnce(&mut Pull)) {
        let mut state = self.state();
        edit(state.pulls.iter_mut().find(|p| p.number == number).unwrap());
    }

    /// Records a review of pull request `number` by `user` on `commit`.
    pub fn add_review(&self, number: u64, user: &str, commit: &str) {
        let mut state = self.state();
        let id = state.id();
        state.reviews.push(Review {
            id,
            pull: number,
            author: user.into(),
            commit: commit.into(),
        });
    }

    /// Adds a comment by `user` on issue or pull request `number`; its id.
    pub fn add_comment(&self, number: u64, user: &str, body: &str) -> u64 {
        let mut state = self.state();
        let id = state.id();
        state.comments.push(Comment {
            id,
            issue: number,
            author: user.into(),
            body: body.into(),
        });
        id
    }

    /// The comments on issue or pull request `number`, as `(id, body)`, oldest first.
    pub fn comments(&self, number: u64) -> Vec<(u64, String)> {
        let state = self.state();
        let on_issue = state.comments.iter().filter(|c| c.issue == number);
        on_issue.map(|c| (c.id, c.body.clone())).collect()
    }

    /// Answers the next `times` requests matching `method` (`*`: any) and `path_contains`
    /// with `status`, `headers` and the JSON `body`.
    pub fn fail(
        &self,
        method: &str,
        path_contains: &str,
        times: u32,
        status: u16,
        headers: &[(&str, &str)],
        body: Value,
    ) {
        self.state().faults.push(Fault {
            method: method.into(),
            path_contains: path_contains.into(),
            times,
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body,
        });
    }

    /// Forgets every fault not yet used.
    pub fn heal(&self) {
        self.state().faults.clear();
    }

    /// On the next create, another run opens the same pull request first.
    pub fn race_on_create(&self, head: &str, base: &str, title: &str) {
        self.state().race = Some((head.into(), base.into(), title.into()));
    }

    /// On the next merge, `branch` has just been pushed to `sha` (after the client read it).
    pub fn push_before_merge(&self, branch: &str, sha: &str) {
        self.state().push_before_merge = Some((branch.into(), sha.into()));
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    /// The requests that are not reads.
    pub fn writes(&self) -> Vec<Recorded> {
        let requests = self.requests();
        requests.into_iter().filter(|r| r.method != "GET").collect()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.state().requests.clear();
    }
}

/// Accepts connections until aborted; aborting it drops (and so closes) every connection.
async fn serve(listener: TcpListener, state: Arc<Mutex<State>>) {
    let mut connections = JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        while connections.try_join_next().is_some() {}
        connections.spawn(connection(stream, state.clone()));
    }
}

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        let found = self.headers.iter().find(|(n, _)| n == name);
        found.map(|(_, v)| v.as_str())
    }
}

/// Serves the requests of one keep-alive connection.
async fn connection(stream: TcpStream, state: Arc<Mutex<State>>) {
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader).await {
        let response = state.lock().unwrap().handle(&request);
        if reader.get_mut().write_all(&response).await.is_err() {
            return;
        }
    }
}

async fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut words = line.split_whitespace();
    let method = words.next()?.to_owned();
    let target = words.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut request = Request {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    if let Some(length) = request.header("content-length") {
        let mut body = vec![0; length.parse().ok()?];
        reader.read_exact(&mut body).await.ok()?;
        request.body = body;
    } else if request.header("transfer-encoding") == Some("chunked") {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).await.ok()?;
            let size = usize::from_str_radix(size.trim(), 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).await.ok()?;
            if size == 0 {
                break;
            }
            request.body.extend_from_slice(&chunk[..size]);
        }
    }
    Some(request)
}

/// An answer: status, extra headers, JSON body.
type Answer = (u16, Vec<(String, String)>, Value);

fn answer(status: u16, body: Value) -> Answer {
    (status, Vec::new(), body)
}

fn error(status: u16, message: &str) -> Answer {
    answer(
        status,
        json!({
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
            "status": status.to_string(),
        }),
    )
}

fn validation_failed(errors: Value) -> Answer {
    answer(
        422,
        json!({
            "message": "Validation Failed",
            "errors": errors,
            "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
            "status": "422",
        }),
    )
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn encode(response: Answer) -> Vec<u8> {
    let (status, headers, body) = response;
    let body = body.to_string();
    let reset = (now() + 3600).to_string();
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json; charset=utf-8\r\n\
         content-length: {}\r\nx-github-api-version-selected: 2022-11-28\r\n",
        reason(status),
        body.len()
    );
    let mut all = headers;
    for (name, value) in [
        ("x-ratelimit-limit", "5000"),
        ("x-ratelimit-remaining", "4999"),
        ("x-ratelimit-reset", reset.as_str()),
        ("x-ratelimit-resource", "core"),
    ] {
        if !all.iter().any(|(n, _)| n == name) {
            all.push((name.into(), value.into()));
        }
    }
    for (name, value) in all {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    [head.into_bytes(), body.into_bytes()].concat()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// `a=b&c=d`, percent-decoded.
fn query_pairs(query: &str) -> BTreeMap<String, String> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// `text` as one percent-encoded path segment.
fn encode_segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn strings(value: &Value) -> Vec<String> {
    let items = value.as_array().cloned().unwrap_or_default();
    items
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect()
}

fn contains_ignoring_case(list: &[String], name: &str) -> bool {
    list.iter().any(|n| n.eq_ignore_ascii_case(name))
}

impl State {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn insert_pull(
        &mut self,
        head: &str,
        base: &str,
        title: &str,
        body: Option<String>,
        author: &str,
    ) -> u64 {
        let number = self.pulls.len() as u64 + 1;
        self.pulls.push(Pull {
            number,
            open: true,
            title: title.into(),
            body,
            head: head.into(),
            base: base.into(),
            author: author.into(),
            labels: Vec::new(),
            requested_reviewers: Vec::new(),
            requested_teams: Vec::new(),
            mergeable: Some(true),
            mergeable_state: "clean".into(),
            undecided_reads: 0,
            merge_commit_sha: None,
        });
        number
    }

    fn handle(&mut self, request: &Request) -> Vec<u8> {
        if let Some(repo) = &self.mirror {
            let repo = git2::Repository::open(repo).expect("mirrored repository");
            for reference in repo.references_glob("refs/heads/*").unwrap() {
                let reference = reference.unwrap();
                let name = reference.shorthand().unwrap().to_string();
                let sha = reference.target().unwrap().to_string();
                self.branches.insert(name, sha);
            }
        }
        let authorized = request.header("authorization") == Some(&format!("Bearer {TOKEN}"));
        let path = request
            .target
            .strip_prefix(&self.prefix)
            .unwrap_or(&request.target)
            .to_owned();
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let response = if !authorized {
            error(401, "Bad credentials")
        } else if !request.target.starts_with(&format!("{}/", self.prefix)) {
            error(404, "Not Found")
        } else if let Some(fault) = self.fault(&request.method, &path) {
            fault
        } else {
            self.route(&request.method, &path, &body)
        };
        self.requests.push(Recorded {
            method: request.method.clone(),
            path,
            body,
            status: response.0,
            authorized,
        });
        encode(response)
    }

    fn fault(&mut self, method: &str, path: &str) -> Option<Answer> {
        let fault = self.faults.iter_mut().find(|f| {
            f.times > 0
                && (f.method == "*" || f.method == method)
                && path.contains(&f.path_contains)
        })?;
        fault.times -= 1;
        Some((fault.status, fault.headers.clone(), fault.body.clone()))
    }

    fn route(&mut self, method: &str, path: &str, body: &Value) -> Answer {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let query = query_pairs(query);
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let ["repos", owner, name, rest @ ..] = segments.as_slice() else {
            return error(404, "Not Found");
        };
        if !format!("{owner}/{name}").eq_ignore_ascii_case(REPO) {
            return error(404, "Not Found");
        }
        let number = |text: &str| text.parse::<u64>().ok();
        match (method, rest) {
            ("GET", ["pulls"]) => self.list_pulls(path, &query),
            ("POST", ["pulls"]) => self.create_pull(body),
            ("GET", ["pulls", n]) => self.with_pull(number(n), |s, i| s.read_pull(i)),
            ("PATCH", ["pulls", n]) => self.with_pull(number(n), |s, i| s.update_pull(i, body)),
            ("PUT", ["pulls", n, "merge"]) => self.with_pull(number(n), |s, i| s.merge(i, body)),
            ("POST", ["pulls", n, "requested_reviewers"]) => {
                self.with_pull(number(n), |s, i| s.request_reviewers(i, body))
            }
            ("GET", ["pulls", n, "reviews"]) => match number(n) {
                Some(n) => {
                    let reviews: Vec<Value> = (self.reviews.iter())
                        .filter(|r| r.pull == n)
                        .map(|r| self.review_json(r))
                        .collect();
                    self.page(path, &query, reviews)
                }
                None => error(404, "Not Found"),
            },
            ("POST", ["issues", n, "labels"]) => {
                self.with_pull(number(n), |s, i| s.add_labels(i, body))
            }
            ("GET", ["issues", n, "comments"]) => match number(n) {
                Some(n) => {
                    let comments: Vec<Value> = (self.comments.iter())
                        .filter(|c| c.issue == n)
                        .map(|c| self.comment_json(c))
                        .collect();
                    self.page(path, &query, comments)
                }
                None => error(404, "Not Found"),
            },
            ("POST", ["issues", n, "comments"]) => match (number(n), body["body"].as_str()) {
                (Some(issue), Some(text)) => {
                    let id = self.id();
                    let comment = Comment {
                        id,
                        issue,
                        author: BOT.into(),
                        body: text.into(),
                    };
                    let json = self.comment_json(&comment);
                    self.comments.push(comment);
                    answer(201, json)
                }
                _ => validation_failed(
                    json!([{"resource": "IssueComment", "field": "body", "code": "missing_field"}]),
                ),
            },
            ("PATCH", ["issues", "comments", id]) => {
                let id = number(id);
                let text = body["body"].as_str().map(String::from);
                match (self.comments.iter_mut().find(|c| Some(c.id) == id), text) {
                    (Some(comment), Some(text)) => {
                        comment.body = text;
                        let comment = comment.clone();
                        answer(200, self.comment_json(&comment))
                    }
                    (None, _) => error(404, "Not Found"),
                    (_, None) => validation_failed(
                        json!([{"resource": "IssueComment", "field": "body", "code": "missing_field"}]),
                    ),
                }
            }
            _ => error(404, "Not Found"),
        }
    }

    fn with_pull(
        &mut self,
        number: Option<u64>,
        f: impl FnOnce(&mut State, usize) -> Answer,
    ) -> Answer {
        match self.pulls.iter().position(|p| Some(p.number) == number) {
            Some(index) => f(self, index),
            None => error(404, "Not Found"),
        }
    }

    /// One page of `items` as GitHub pages lists: `per_page` (default 30, at most 100),
    /// `page` (from 1), and a `Link` header to the next and last pages.
    fn page(&self, path: &str, query: &BTreeMap<String, String>, items: Vec<Value>) -> Answer {
        let per_page: usize = query
            .get("per_page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(30)
            .clamp(1, 100);
        let page: usize = query
            .get("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1)
            .max(1);
        let last = items.len().div_ceil(per_page).max(1);
        let shown: Vec<Value> = items
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .collect();
        let mut headers = Vec::new();
        if page < last {
            let link = |n: usize| {
                let mut q = query.clone();
                q.insert("page".into(), n.to_string());
                let q = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&q)
                    .finish();
                format!("{}{path}?{q}", self.api)
            };
            headers.push((
                "link".to_owned(),
                format!(
                    "<{}>; rel=\"next\", <{}>; rel=\"last\"",
                    link(page + 1),
                    link(last)
                ),
            ));
        }
        (200, headers, Value::Array(shown))
    }

    fn list_pulls(&self, path: &str, query: &BTreeMap<String, String>) -> Answer {
        let state = query.get("state").map_or("open", String::as_str);
        let head = query.get("head").map(|h| match h.split_once(':') {
            Some((owner, branch)) => (owner.to_owned(), branch.to_owned()),
            None => (h.clone(), String::new()),
        });
        let pulls: Vec<Value> = (self.pulls.iter())
            .filter(|p| match state {
                "all" => true,
                "closed" => !p.open,
                _ => p.open,
            })
            .filter(|p| {
                head.as_ref().is_none_or(|(owner, branch)| {
                    owner.eq_ignore_ascii_case(OWNER) && (branch.is_empty() || *branch == p.head)
                })
            })
            .filter(|p| query.get("base").is_none_or(|b| *b == p.base))
            .map(|p| self.pull_json(p, false))
            .collect();
        self.page(path, query, pulls)
    }

    fn create_pull(&mut self, body: &Value) -> Answer {
        if let Some((head, base, title)) = self.race.take() {
            self.insert_pull(&head, &base, &title, None, "another-run");
        }
        let field = |name: &str| body[name].as_str().map(String::from);
        let (Some(title), Some(head), Some(base)) = (field("title"), field("head"), field("base"))
        else {
            return validation_failed(
                json!([{"resource": "PullRequest", "code": "missing_field"}]),
            );
        };
        let head = head
            .strip_prefix(&format!("{OWNER}:"))
            .map(String::from)
            .unwrap_or(head);
        for (name, branch) in [("head", &head), ("base", &base)] {
            if !self.branches.contains_key(branch) {
                return validation_failed(
                    json!([{"resource": "PullRequest", "field": name, "code": "invalid"}]),
                );
            }
        }
        if self.branches[&head] == self.branches[&base] {
            return validation_failed(json!([{"resource": "PullRequest", "code": "custom",
                "message": format!("No commits between {base} and {head}")}]));
        }
        if self
            .pulls
            .iter()
            .any(|p| p.open && p.head == head && p.base == base)
        {
            return validation_failed(json!([{"resource": "PullRequest", "code": "custom",
                "message": format!("A pull request already exists for {OWNER}:{head}.")}]));
        }
        let number = self.insert_pull(&head, &base, &title, field("body"), BOT);
        let pull = self.pulls.last().unwrap();
        debug_assert_eq!(pull.number, number);
        answer(201, self.pull_json(pull, true))
    }

    fn read_pull(&mut self, index: usize) -> Answer {
        let pull = &mut self.pulls[index];
        let decided = pull.undecided_reads == 0;
        pull.undecided_reads = pull.undecided_reads.saturating_sub(1);
        let mut json = self.pull_json(&self.pulls[index], true);
        if !decided {
            json["mergeable"] = Value::Null;
            json["mergeable_state"] = json!("unknown");
        }
        answer(200, json)
    }

    fn update_pull(&mut self, index: usize, body: &Value) -> Answer {
        let pull = &mut self.pulls[index];
        if let Some(title) = body["title"].as_str() {
            pull.title = title.into();
        }
        if let Some(text) = body["body"].as_str() {
            pull.body = Some(text.into());
        }
        match body["state"].as_str() {
            Some("closed") => pull.open = false,
            Some("open") => pull.open = true,
            _ => {}
        }
        answer(200, self.pull_json(&self.pulls[index], true))
    }

    fn merge(&mut self, index: usize, body: &Value) -> Answer {
        if let Some((branch, sha)) = self.push_before_merge.take() {
            self.branches.insert(branch, sha);
        }
        let head_sha = self.branches.get(&self.pulls[index].head).cloned();
        let pull = &self.pulls[index];
        if !pull.open {
            return error(405, "Pull Request is not mergeable");
        }
        if body["sha"]
            .as_str()
            .is_some_and(|sha| Some(sha) != head_sha.as_deref())
        {
            return error(
                409,
                "Head branch was modified. Review and try the merge again.",
            );
        }
        let blocked =
            ["blocked", "dirty", "behind", "draft"].contains(&pull.mergeable_state.as_str());
        if pull.mergeable != Some(true) || blocked {
            return error(405, "Pull Request is not mergeable");
        }
        let base = pull.base.clone();
        let sha = format!("{:040x}", self.id());
        let pull = &mut self.pulls[index];
        pull.open = false;
        pull.merge_commit_sha = Some(sha.clone());
        self.branches.insert(base, sha.clone());
        answer(
            200,
            json!({"sha": sha, "merged": true, "message": "Pull Request successfully merged"}),
        )
    }

    fn request_reviewers(&mut self, index: usize, body: &Value) -> Answer {
        let users = strings(&body["reviewers"]);
        let teams = strings(&body["team_reviewers"]);
        let pull = &mut self.pulls[index];
        if contains_ignoring_case(&users, &pull.author) {
            return validation_failed(json!([
                "Review cannot be requested from pull request author."
            ]));
        }
        for user in users {
            if !contains_ignoring_case(&pull.requested_reviewers, &user) {
                pull.requested_reviewers.push(user);
            }
        }
        for team in teams {
            if !contains_ignoring_case(&pull.requested_teams, &team) {
                pull.requested_teams.push(team);
            }
        }
        answer(201, self.pull_json(&self.pulls[index], false))
    }

    fn add_labels(&mut self, index: usize, body: &Value) -> Answer {
        let labels = match &body["labels"] {
            Value::Null => strings(body),
            list => strings(list),
        };
        let pull = &mut self.pulls[index];
        for label in labels {
            if !contains_ignoring_case(&pull.labels, &label) {
                pull.labels.push(label);
            }
        }
        let labels: Vec<Value> = (self.pulls[index].labels.iter())
            .map(|l| self.label_json(l))
            .collect();
        answer(200, Value::Array(labels))
    }

    fn user_json(&self, login: &str) -> Value {
        let id: u64 = login.bytes().map(u64::from).sum();
        let api = &self.api;
        json!({
            "login": login, "id": id, "node_id": format!("MDQ6VXNlcj{id}"),
            "avatar_url": format!("{HTML}/avatars/{login}"), "gravatar_id": "",
            "url": format!("{api}/users/{login}"), "html_url": format!("{HTML}/{login}"),
            "followers_url": format!("{api}/users/{login}/followers"),
            "following_url": format!("{api}/users/{login}/following{{/other_user}}"),
            "gists_url": format!("{api}/users/{login}/gists{{/gist_id}}"),
            "starred_url": format!("{api}/users/{login}/starred{{/owner}}{{/repo}}"),
            "subscriptions_url": format!("{api}/users/{login}/subscriptions"),
            "organizations_url": format!("{api}/users/{login}/orgs"),
            "repos_url": format!("{api}/users/{login}/repos"),
            "events_url": format!("{api}/users/{login}/events{{/privacy}}"),
            "received_events_url": format!("{api}/users/{login}/received_events"),
            "type": if login.ends_with("-bot") { "Bot" } else { "User" },
            "site_admin": false
        })
    }

    fn repo_json(&self) -> Value {
        let api = &self.api;
        json!({
            "id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": "fleet",
            "full_name": REPO, "owner": self.user_json(OWNER), "private": true,
            "html_url": format!("{HTML}/{REPO}"), "description": "The fleet", "fork": false,
            "url": format!("{api}/repos/{REPO}"),
            "pulls_url": format!("{api}/repos/{REPO}/pulls{{/number}}"),
            "default_branch": "main", "visibility": "private",
            "created_at": CREATED_AT, "updated_at": CREATED_AT, "pushed_at": CREATED_AT
        })
    }

    fn label_json(&self, name: &str) -> Value {
        json!({
            "id": 208045946, "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=",
            "url": format!("{}/repos/{REPO}/labels/{}", self.api, encode_segment(name)),
            "name": name, "description": null, "color": "ededed", "default": false
        })
    }

    fn team_json(&self, slug: &str) -> Value {
        let api = &self.api;
        json!({
            "id": 1, "node_id": "MDQ6VGVhbTE=", "url": format!("{api}/teams/1"),
            "html_url": format!("{HTML}/orgs/{OWNER}/teams/{slug}"), "name": slug, "slug": slug,
            "description": null, "privacy": "closed", "permission": "pull",
            "notification_setting": "notifications_enabled",
            "members_url": format!("{api}/teams/1/members{{/member}}"),
            "repositories_url": format!("{api}/teams/1/repos"), "parent": null
        })
    }

    fn branch_json(&self, branch: &str) -> Value {
        json!({
            "label": format!("{OWNER}:{branch}"), "ref": branch,
            "sha": self.branches.get(branch).cloned().unwrap_or_else(|| "0".repeat(40)),
            "user": self.user_json(OWNER), "repo": self.repo_json()
        })
    }

    /// A pull request; `full` adds what GitHub shows only when one is read alone.
    fn pull_json(&self, pull: &Pull, full: bool) -> Value {
        let n = pull.number;
        let api = &self.api;
        let merged = pull.merge_commit_sha.is_some();
        let head_sha = self.branches.get(&pull.head).cloned().unwrap_or_default();
        let links = json!({
            "self": {"href": format!("{api}/repos/{REPO}/pulls/{n}")},
            "html": {"href": format!("{HTML}/{REPO}/pull/{n}")},
            "issue": {"href": format!("{api}/repos/{REPO}/issues/{n}")},
            "comments": {"href": format!("{api}/repos/{REPO}/issues/{n}/comments")},
            "review_comments": {"href": format!("{api}/repos/{REPO}/pulls/{n}/comments")},
            "review_comment": {"href": format!("{api}/repos/{REPO}/pulls/comments{{/number}}")},
            "commits": {"href": format!("{api}/repos/{REPO}/pulls/{n}/commits")},
            "statuses": {"href": format!("{api}/repos/{REPO}/statuses/{head_sha}")}
        });
        let mut json = json!({
            "url": format!("{api}/repos/{REPO}/pulls/{n}"), "id": 1_000_000 + n,
            "node_id": format!("PR_kwDO{n}"), "html_url": format!("{HTML}/{REPO}/pull/{n}"),
            "diff_url": format!("{HTML}/{REPO}/pull/{n}.diff"),
            "patch_url": format!("{HTML}/{REPO}/pull/{n}.patch"),
            "issue_url": format!("{api}/repos/{REPO}/issues/{n}"),
            "commits_url": format!("{api}/repos/{REPO}/pulls/{n}/commits"),
            "review_comments_url": format!("{api}/repos/{REPO}/pulls/{n}/comments"),
            "review_comment_url": format!("{api}/repos/{REPO}/pulls/comments{{/number}}"),
            "comments_url": format!("{api}/repos/{REPO}/issues/{n}/comments"),
            "statuses_url": format!("{api}/repos/{REPO}/statuses/{head_sha}"),
            "number": n, "state": if pull.open { "open" } else { "closed" }, "locked": false,
            "title": pull.title, "user": self.user_json(&pull.author), "body": pull.body,
            "labels": pull.labels.iter().map(|l| self.label_json(l)).collect::<Vec<_>>(),
            "milestone": null, "active_lock_reason": null,
            "created_at": CREATED_AT, "updated_at": CREATED_AT,
            "closed_at": if pull.open { Value::Null } else { json!(CREATED_AT) },
            "merged_at": if merged { json!(CREATED_AT) } else { Value::Null },
            "merge_commit_sha": pull.merge_commit_sha,
            "assignee": null, "assignees": [],
            "requested_reviewers": pull.requested_reviewers.iter().map(|u| self.user_json(u)).collect::<Vec<_>>(),
            "requested_teams": pull.requested_teams.iter().map(|t| self.team_json(t)).collect::<Vec<_>>(),
            "head": self.branch_json(&pull.head), "base": self.branch_json(&pull.base),
            "_links": links,
            "author_association": "NONE", "auto_merge": null, "draft": false
        });
        if full {
            let extra = json!({
                "merged": merged, "mergeable": pull.mergeable,
                "rebaseable": pull.mergeable, "mergeable_state": pull.mergeable_state,
                "merged_by": if merged { self.user_json(BOT) } else { Value::Null },
                "comments": self.comments.iter().filter(|c| c.issue == n).count(),
                "review_comments": 0, "maintainer_can_modify": false,
                "commits": 1, "additions": 1, "deletions": 0, "changed_files": 1
            });
            for (key, value) in extra.as_object().unwrap() {
                json[key] = value.clone();
            }
        }
        json
    }

    fn comment_json(&self, comment: &Comment) -> Value {
        let api = &self.api;
        let (id, issue) = (comment.id, comment.issue);
        json!({
            "id": id, "node_id": format!("IC_kwDO{id}"),
            "url": format!("{api}/repos/{REPO}/issues/comments/{id}"),
            "html_url": format!("{HTML}/{REPO}/pull/{issue}#issuecomment-{id}"),
            "body": comment.body, "user": self.user_json(&comment.author),
            "created_at": CREATED_AT, "updated_at": CREATED_AT,
            "issue_url": format!("{api}/repos/{REPO}/issues/{issue}"),
            "author_association": "NONE"
        })
    }

    fn review_json(&self, review: &Review) -> Value {
        let api = &self.api;
        let (id, n) = (review.id, review.pull);
        json!({
            "id": id, "node_id": format!("PRR_kwDO{id}"), "user": self.user_json(&review.author),
            "body": "Looks good.", "state": "APPROVED",
            "html_url": format!("{HTML}/{REPO}/pull/{n}#pullrequestreview-{id}"),
            "pull_request_url": format!("{api}/repos/{REPO}/pulls/{n}"),
            "_links": {
                "html": {"href": format!("{HTML}/{REPO}/pull/{n}#pullrequestreview-{id}")},
                "pull_request": {"href": format!("{api}/repos/{REPO}/pulls/{n}")}
            },
            "submitted_at": CREATED_AT, "commit_id": review.commit,
            "author_association": "MEMBER"
        })
    }
}
