//! The HTTP listener of the real daemon: health, metrics, auth, API
//! results that agree with the CLI, errors, and the server against its
//! OpenAPI document (docs/openapi.json).

use std::time::Duration;

use crate::common::{free_port, rss, FeedServer, Route, Workspace};
use serde_json::Value;

async fn json<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> T {
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

/// The real daemon (`feedwatch run`) with its listener on `port`.
struct Daemon {
    child: tokio::process::Child,
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Daemon {
    /// Starts the daemon of `ws` (whose config listens on `port` with the
    /// bearer token `token`) and waits until `/readyz` answers 200.
    async fn start(ws: &Workspace, port: u16, token: &str) -> Daemon {
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
            .arg("--config")
            .arg(ws.config_path())
            .arg("run")
            .stderr(std::process::Stdio::null())
            // A failing test must not leave its daemon behind.
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let daemon = Daemon {
            child,
            base: format!("http://127.0.0.1:{port}"),
            token: token.to_string(),
            http: reqwest::Client::new(),
        };
        for _ in 0..100 {
            if let Ok(r) = daemon.get("/readyz").await {
                if r.status() == 200 {
                    return daemon;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the daemon did not become ready");
    }

    /// `method path` with the token (`token: false`: without).
    async fn request(&self, method: reqwest::Method, path: &str, token: bool) -> reqwest::Response {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if token {
            request = request.bearer_auth(&self.token);
        }
        request.send().await.unwrap()
    }

    fn get(&self, path: &str) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
    }

    async fn stop(mut self) {
        std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().unwrap().to_string()])
            .status()
            .unwrap();
        assert_eq!(self.child.wait().await.unwrap().code(), Some(0));
    }
}

/// A workspace whose daemon listens on a free port with a token, one feed
/// `Rudaw` (two items, one about Kurdistan), a topic `kurdistan` and a
/// daily alert to a file channel; polled once, and one digest sent.
async fn api_workspace(server: &FeedServer) -> (Workspace, u16, tempfile::TempDir) {
    server.set(
        "/a.xml",
        Route::Feed {
            body: rss(&[
                ("a1", "Kurdistan referendum", "Erbil votes."),
                ("a2", "Weather", "Sunny."),
            ]),
            content_type: "application/rss+xml",
        },
    );
    let port = free_port();
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("token"), "t0ken\n").unwrap();
    let extra = format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\ntoken_file = \"{}\"\n\
         [[channel]]\nname = \"file\"\nkind = \"file\"\npath = \"out/digests.jsonl\"\n\
         [[alert]]\nname = \"daily\"\ntopics = [\"kurdistan\"]\nschedule = \"daily 08:00\"\nchannels = [\"file\"]\n",
        secrets.path().join("token").display()
    );
    let ws = Workspace::new(
        &[(&server.url("/a.xml"), "Rudaw")],
        &[("kurdistan", "Kurdistan")],
        &extra,
    );
    let out = ws.run(&["run", "--once"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = ws.run(&["digest", "send", "--alert", "daily", "--now"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    (ws, port, secrets)
}

#[tokio::test(flavor = "multi_thread")]
async fn api_serves_health_metrics_and_items_like_search() {
    let server = FeedServer::start().await;
    server.set(
        "/a.xml",
        Route::Feed {
            body: rss(&[
                ("a1", "Kurdistan referendum", "Erbil votes."),
                ("a2", "Weather", "Sunny."),
            ]),
            content_type: "application/rss+xml",
        },
    );
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "t0ken\n").unwrap();
    let extra = format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\ntoken_file = \"{}\"\n",
        dir.path().join("token").display()
    );
    let ws = Workspace::new(&[(&server.url("/a.xml"), "A")], &[("k", "Kurdistan")], &extra);
    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(ws.config_path())
        .arg("run")
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let get = |path: &str, token: bool| {
        let mut request = http.get(format!("{base}{path}"));
        if token {
            request = request.bearer_auth("t0ken");
        }
        request.send()
    };
    // Wait for the listener and the first poll.
    let mut up = false;
    for _ in 0..100 {
        if let Ok(r) = get("/metrics", true).await {
            if r.text()
                .await
                .unwrap()
                .contains("feedwatch_polls_total{outcome=\"ok\"} 1")
            {
                up = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the daemon serves /metrics and counts its first poll");

    assert_eq!(get("/healthz", false).await.unwrap().status(), 200);
    assert_eq!(
        get("/metrics", false).await.unwrap().status(),
        401,
        "the token is required"
    );
    assert_eq!(get("/api/items", false).await.unwrap().status(), 401);
    assert_eq!(get("/readyz", true).await.unwrap().status(), 200);

    let metrics = get("/metrics", true).await.unwrap().text().await.unwrap();
    for line in [
        "# TYPE feedwatch_polls counter",
        "feedwatch_items_ingested_total 2",
        "feedwatch_matches_total 1",
        "feedwatch_items 2",
        "feedwatch_topic_matches{topic=\"k\"} 1",
        "feedwatch_feeds{state=\"healthy\"} 1",
        "feedwatch_poll_duration_seconds_count 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line:?} in\n{metrics}"
        );
    }
    assert_eq!(metrics.matches("# EOF").count(), 1);
    assert!(metrics.trim_end().ends_with("# EOF"));
    // Every sample line is `name{labels} value` with a numeric value.
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "not a sample: {line}");
    }

    // /api/items agrees with `search`.
    let api: Vec<serde_json::Value> = json(get("/api/items?topic=k", true).await.unwrap()).await;
    let cli = ws.search(&["--topic", "k"]).await;
    assert_eq!(api, cli);
    let api: Vec<serde_json::Value> = json(get("/api/items?q=weather", true).await.unwrap()).await;
    assert_eq!(api, ws.search(&["weather"]).await);
    let bad = get("/api/items?q=(Kurdistan", true).await.unwrap();
    assert_eq!(bad.status(), 400);
    let error: serde_json::Value = json(bad).await;
    assert!(error["error"].as_str().unwrap().contains("column 11"), "{error}");
    // Issue 20: 1,600 nested parentheses overflowed the stack of the worker
    // parsing them and aborted the daemon. A 400 now, and it goes on serving.
    let deep = format!("{}a{}", "(".repeat(1600), ")".repeat(1600));
    let bad = get(&format!("/api/items?q={deep}"), true).await.unwrap();
    assert_eq!(bad.status(), 400);
    let error: serde_json::Value = json(bad).await;
    assert_eq!(
        error["error"],
        "query: column 65: the query nests deeper than 64 levels \
         (parentheses, NOT, field scopes and AND, OR and NEAR groups count)"
    );
    assert_eq!(get("/healthz", false).await.unwrap().status(), 200);
    let feeds: Vec<serde_json::Value> = json(get("/api/feeds", true).await.unwrap()).await;
    assert_eq!(feeds[0]["url"], server.url("/a.xml"));
    let topics: Vec<serde_json::Value> = json(get("/api/topics", true).await.unwrap()).await;
    assert_eq!(
        (topics[0]["name"].as_str(), topics[0]["total"].as_i64()),
        (Some("k"), Some(1))
    );
    assert_eq!(
        get("/api/stories?since=2000-01-01", true).await.unwrap().status(),
        200
    );
    assert_eq!(get("/api/digests", true).await.unwrap().status(), 200);

    std::process::Command::new("kill")
        .args(["-TERM", &daemon.id().unwrap().to_string()])
        .status()
        .unwrap();
    assert_eq!(daemon.wait().await.unwrap().code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn listener_is_loopback_only_unless_allowed() {
    let ws = Workspace::with_config("[http]\nlisten = \"0.0.0.0:9187\"\n");
    let out = ws.run(&["check"]).await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("http.listen: 0.0.0.0:9187 is not a loopback address; set http.allow_remote = true"),
        "{}",
        out.stderr
    );
    let ws = Workspace::with_config(
        "[http]\nlisten = \"0.0.0.0:9187\"\nallow_remote = true\n[[topic]]\nname = \"k\"\nquery = \"a\"\n",
    );
    assert_eq!(ws.run(&["check"]).await.code, 0);
}

/// Issue 21 (10): `/api/items?limit=-1` was a `text/plain` 400 ("Failed to
/// deserialize…"), `?topics=kirkuk` (a typo) silently returned every item,
/// `/api/nope` an empty 404 and `POST` an empty 405. Every error is now
/// `{"error": "one sentence"}` with its status, naming the parameter.
#[tokio::test(flavor = "multi_thread")]
async fn api_errors_are_json_sentences_naming_the_parameter() {
    let server = FeedServer::start().await;
    let (ws, port, _secrets) = api_workspace(&server).await;
    let daemon = Daemon::start(&ws, port, "t0ken").await;
    let known = "(known: q, topic, feed, story, lang, since, until, after, limit)";
    for (method, path, status, message) in [
        (
            "GET",
            "/api/items?limit=-1",
            400,
            "limit: expected a whole number from 1 to 1000, got \"-1\"".to_string(),
        ),
        (
            "GET",
            "/api/items?limit=0",
            400,
            "limit: expected a whole number from 1 to 1000, got \"0\"".into(),
        ),
        (
            "GET",
            "/api/items?limit=5000",
            400,
            "limit: expected a whole number from 1 to 1000, got \"5000\"".into(),
        ),
        (
            "GET",
            "/api/items?topics=kurdistan",
            400,
            format!("unknown parameter \"topics\" {known}"),
        ),
        (
            "GET",
            "/api/items?topic=kurdistan&topic=x",
            400,
            "parameter \"topic\" is given 2 times; give it once".into(),
        ),
        (
            "GET",
            "/api/items?story=latest",
            400,
            "story: expected a story id (a whole number), got \"latest\"".into(),
        ),
        (
            "GET",
            "/api/digests?failed=yes",
            400,
            "failed: expected true or false, got \"yes\"".into(),
        ),
        (
            "GET",
            "/api/stories?until=2017-09-01",
            400,
            "unknown parameter \"until\" (known: topic, since, limit)".into(),
        ),
        (
            "GET",
            "/api/feeds?name=Rudaw",
            400,
            "unknown parameter \"name\": /api/feeds takes no parameters".into(),
        ),
        (
            "GET",
            "/api/items?since=last%20week",
            400,
            "since: \"last week\" is not a time: use RFC 3339 \
            (2017-09-25T08:00:00Z), a date (2017-09-25) or an age (24h, 7d)"
                .into(),
        ),
        // Issue 21 (12): an inverted range was an empty answer.
        (
            "GET",
            "/api/items?since=2017-09-01&until=2017-08-01",
            400,
            "until must be later than since \
            (since 2017-09-01T00:00:00Z, until 2017-08-01T00:00:00Z)"
                .into(),
        ),
        // Issue 21 (11): unknown names were empty answers.
        (
            "GET",
            "/api/items?feed=nonexistent",
            400,
            "feed: no feed named \"nonexistent\" (known: Rudaw)".into(),
        ),
        (
            "GET",
            "/api/items?topic=kirkuk",
            400,
            "topic: no topic named \"kirkuk\" (known: kurdistan)".into(),
        ),
        (
            "GET",
            "/api/stories?topic=kirkuk",
            400,
            "topic: no topic named \"kirkuk\" (known: kurdistan)".into(),
        ),
        (
            "GET",
            "/api/nope",
            404,
            "no route /api/nope; see docs/api.md".into(),
        ),
        // `/` is the web desk's ([http] ui); a client not asking for HTML
        // gets the API's JSON 404 on any other path.
        ("GET", "/nope", 404, "no route /nope; see docs/api.md".into()),
        (
            "POST",
            "/api/items",
            405,
            "/api/items answers GET only, not POST; the API is read-only".into(),
        ),
        (
            "DELETE",
            "/api/feeds",
            405,
            "/api/feeds answers GET only, not DELETE; the API is read-only".into(),
        ),
    ] {
        let response = daemon.request(method.parse().unwrap(), path, true).await;
        let name = format!("{method} {path}");
        assert_eq!(response.status(), status, "{name}");
        assert_eq!(
            response.headers()[reqwest::header::CONTENT_TYPE],
            "application/json",
            "{name}"
        );
        if status == 405 {
            assert_eq!(response.headers()[reqwest::header::ALLOW], "GET,HEAD", "{name}");
        }
        let body: Value = json(response).await;
        assert_eq!(body, serde_json::json!({ "error": message }), "{name}");
    }
    // The token is still checked first, in JSON.
    let response = daemon
        .request(reqwest::Method::GET, "/api/items?limit=-1", false)
        .await;
    assert_eq!(response.status(), 401);
    let body: Value = json(response).await;
    assert_eq!(body["error"], "a valid bearer token is required");
    // Valid parameters still work, the limit's bounds included.
    for path in [
        "/api/items?limit=1000",
        "/api/items?limit=1&topic=kurdistan",
        "/api/digests?failed=false",
    ] {
        assert_eq!(daemon.get(path).await.unwrap().status(), 200, "{path}");
    }
    let items: Vec<Value> = json(daemon.get("/api/items?topic=kurdistan").await.unwrap()).await;
    assert_eq!(items.len(), 1);
    daemon.stop().await;
}

/// Issue 21 (10): the API is published as docs/openapi.json, and the real
/// server is checked against it: every route in src/api.rs is documented;
/// every documented route and parameter is accepted, with the parameter
/// bounds the document gives; every answer has a documented status and
/// content type, and its JSON the documented shape: every field the server
/// returns is documented and every required field is there (adding a field
/// to a record without documenting it fails here); an undocumented
/// parameter is a 400 whose list of known parameters is the documented one.
#[tokio::test(flavor = "multi_thread")]
async fn api_matches_its_openapi_document() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(root.join("docs/openapi.json")).unwrap())
        .expect("docs/openapi.json is JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();

    // Every route the server has is documented.
    let source = std::fs::read_to_string(root.join("src/api.rs")).unwrap();
    let routes: Vec<&str> = source
        .split(".route(\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert!(routes.len() >= 8, "routes found in src/api.rs: {routes:?}");
    for route in &routes {
        assert!(paths.contains_key(*route), "{route} is not in docs/openapi.json");
    }

    let server = FeedServer::start().await;
    let (ws, port, _secrets) = api_workspace(&server).await;
    let daemon = Daemon::start(&ws, port, "t0ken").await;
    let checker = Checker { doc: &doc };

    for (path, item) in paths {
        assert!(
            routes.contains(&path.as_str()),
            "{path} is documented but not served"
        );
        let op = &item["get"];
        assert_eq!(item.as_object().unwrap().len(), 1, "{path}: GET only");
        let params: Vec<&Value> = op["parameters"]
            .as_array()
            .map(|list| list.iter().map(|p| checker.resolve(p)).collect())
            .unwrap_or_default();

        // The token: needed unless the operation says `security: []`.
        let secured = op
            .get("security")
            .is_none_or(|s| !s.as_array().unwrap().is_empty());
        let anonymous = daemon.request(reqwest::Method::GET, path, false).await;
        if secured {
            assert_eq!(anonymous.status(), 401, "{path} needs the token");
            checker.response(op, path, anonymous).await;
        } else {
            assert_eq!(anonymous.status(), 200, "{path} needs no token");
        }

        // No parameters: the documented 200, with records to check.
        let body = checker.ok(op, path, daemon.get(path).await.unwrap()).await;
        if let Some(list) = body.as_array() {
            assert!(!list.is_empty(), "{path}: the test data gives records to check");
        }

        // Each documented parameter with its example, then all together.
        let mut all = Vec::new();
        for param in &params {
            let name = param["name"].as_str().unwrap();
            assert_eq!(param["in"], "query", "{path} {name}");
            let example = param
                .get("example")
                .unwrap_or_else(|| panic!("{path} {name}: an example"));
            let value = match example {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let query = format!("{name}={}", encode(&value));
            let url = format!("{path}?{query}");
            let body = checker.ok(op, &url, daemon.get(&url).await.unwrap()).await;
            assert!(body.is_array(), "{url}");
            all.push(query);
        }
        if !all.is_empty() {
            let url = format!("{path}?{}", all.join("&"));
            checker.ok(op, &url, daemon.get(&url).await.unwrap()).await;
        }

        // Bounds and types from the parameter schemas.
        for param in &params {
            let name = param["name"].as_str().unwrap();
            let schema = &param["schema"];
            let mut bad: Vec<String> = Vec::new();
            match schema["type"].as_str().unwrap() {
                "integer" => {
                    bad.extend(["x".to_string(), "1.5".into(), String::new()]);
                    if let Some(min) = schema["minimum"].as_i64() {
                        bad.push((min - 1).to_string());
                        checker
                            .ok(
                                op,
                                path,
                                daemon.get(&format!("{path}?{name}={min}")).await.unwrap(),
                            )
                            .await;
                    }
                    if let Some(max) = schema["maximum"].as_i64() {
                        bad.push((max + 1).to_string());
                        checker
                            .ok(
                                op,
                                path,
                                daemon.get(&format!("{path}?{name}={max}")).await.unwrap(),
                            )
                            .await;
                    }
                }
                "boolean" => bad.extend(["maybe".to_string(), "1".into()]),
                "string" => {}
                other => panic!("{path} {name}: no check for parameter type {other}"),
            }
            for value in bad {
                let url = format!("{path}?{name}={}", encode(&value));
                let response = daemon.get(&url).await.unwrap();
                assert_eq!(response.status(), 400, "{url}");
                let error = checker.response(op, &url, response).await;
                let error = error["error"].as_str().unwrap();
                assert!(error.starts_with(&format!("{name}: expected ")), "{url}: {error}");
            }
        }

        // An undocumented parameter is a 400 listing exactly the documented ones.
        let url = format!("{path}?undocumented=1");
        let response = daemon.get(&url).await.unwrap();
        assert_eq!(response.status(), 400, "{url}");
        let error = checker.response(op, &url, response).await;
        let error = error["error"].as_str().unwrap();
        let mut known: Vec<&str> = match error.split_once("(known: ") {
            Some((_, list)) => list.trim_end_matches(')').split(", ").collect(),
            None => {
                assert!(error.ends_with("takes no parameters"), "{url}: {error}");
                Vec::new()
            }
        };
        assert!(
            error.starts_with("unknown parameter \"undocumented\""),
            "{url}: {error}"
        );
        let mut documented: Vec<&str> = params.iter().map(|p| p["name"].as_str().unwrap()).collect();
        known.sort();
        documented.sort();
        assert_eq!(known, documented, "{path}: parameters served and documented");

        // Another method: the documented 405.
        let response = daemon.request(reqwest::Method::POST, path, true).await;
        assert_eq!(response.status(), 405, "POST {path}");
        checker.response(op, path, response).await;
    }

    // A path that is no route: the 404 of components.responses.
    let response = daemon.get("/api/nope").await.unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = json(response).await;
    checker.check(
        &doc["components"]["responses"]["NotFound"]["content"]["application/json"]["schema"],
        &body,
        "/api/nope",
    );
    daemon.stop().await;
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Checks answers against the OpenAPI document, with a walker for the part
/// of JSON Schema it uses: `$ref`, `type` (one or a list), `enum`,
/// `format: date-time`, `minimum`, `maximum`, `items`, `properties` and
/// `required`. Every object is closed: a field not in `properties` fails.
struct Checker<'a> {
    doc: &'a Value,
}

impl Checker<'_> {
    /// Follows a local `$ref` (`#/components/...`).
    fn resolve<'v>(&'v self, mut value: &'v Value) -> &'v Value {
        while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
            let pointer = reference.strip_prefix('#').expect("a local $ref");
            value = self
                .doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("{reference} is not in the document"));
        }
        value
    }

    /// A 200 as documented; its JSON body (`null` for text).
    async fn ok(&self, op: &Value, what: &str, response: reqwest::Response) -> Value {
        assert_eq!(response.status(), 200, "{what}");
        self.response(op, what, response).await
    }

    /// The response's status is documented for `op`, its content type is
    /// the documented one, and a JSON body has the documented shape.
    async fn response(&self, op: &Value, what: &str, response: reqwest::Response) -> Value {
        let status = response.status().as_u16().to_string();
        let documented = self.resolve(
            op["responses"]
                .get(&status)
                .unwrap_or_else(|| panic!("{what}: status {status} is not documented")),
        );
        let content = documented["content"].as_object().unwrap();
        assert_eq!(content.len(), 1, "{what}: one media type per answer");
        let (media, spec) = content.iter().next().unwrap();
        let content_type = response.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            content_type.split(';').next() == Some(media.as_str()),
            "{what} ({status}): content type {content_type}, documented {media}"
        );
        let text = response.text().await.unwrap();
        if media != "application/json" {
            return Value::Null;
        }
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: {e}: {text}"));
        self.check(&spec["schema"], &body, what);
        body
    }

    /// Panics with every difference between `value` and `schema`.
    fn check(&self, schema: &Value, value: &Value, what: &str) {
        let mut errors = Vec::new();
        self.walk(schema, value, "$", &mut errors);
        assert!(
            errors.is_empty(),
            "{what}: not as documented:\n{}",
            errors.join("\n")
        );
    }

    fn walk(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = self.resolve(schema);
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(list) => list.iter().map(|t| t.as_str().unwrap()).collect(),
            other => panic!("{at}: a schema without a type: {other}"),
        };
        let kind = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let integer_as_number = kind == "integer" && types.contains(&"number");
        if !(types.contains(&kind) || integer_as_number) {
            errors.push(format!("{at}: {kind} {value}, documented {types:?}"));
            return;
        }
        if let (Some(allowed), false) = (schema["enum"].as_array(), value.is_null()) {
            if !allowed.contains(value) {
                errors.push(format!("{at}: {value} is not one of {allowed:?}"));
            }
        }
        if let (Some("date-time"), Some(s)) = (schema["format"].as_str(), value.as_str()) {
            if chrono::DateTime::parse_from_rfc3339(s).is_err() {
                errors.push(format!("{at}: {s:?} is not an RFC 3339 date-time"));
            }
        }
        if let (Some(min), Some(n)) = (schema["minimum"].as_f64(), value.as_f64()) {
            if n < min {
                errors.push(format!("{at}: {n} is below the minimum {min}"));
            }
        }
        if let (Some(max), Some(n)) = (schema["maximum"].as_f64(), value.as_f64()) {
            if n > max {
                errors.push(format!("{at}: {n} is above the maximum {max}"));
            }
        }
        match value {
            Value::Array(list) => {
                for (i, element) in list.iter().enumerate() {
                    self.walk(&schema["items"], element, &format!("{at}[{i}]"), errors);
                }
            }
            Value::Object(fields) => {
                let documented = schema["properties"].as_object().cloned().unwrap_or_default();
                for (name, field) in fields {
                    match documented.get(name) {
                        Some(sub) => self.walk(sub, field, &format!("{at}.{name}"), errors),
                        None => errors.push(format!("{at}.{name}: returned but not documented")),
                    }
                }
                for name in schema["required"].as_array().into_iter().flatten() {
                    let name = name.as_str().unwrap();
                    if !fields.contains_key(name) {
                        errors.push(format!("{at}.{name}: documented as required but missing"));
                    }
                }
            }
            _ => {}
        }
    }
}
