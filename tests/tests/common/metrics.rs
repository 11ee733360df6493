//! Scraping `/metrics` (`serve --metrics-listen`) and parsing it with the
//! reference OpenMetrics parser (Python `prometheus_client`, through
//! scripts/prometheus-parse.sh).

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

/// One scrape, parsed: `name{labels sorted}` → value.
#[derive(Debug)]
pub struct Scrape {
    /// `name{labels sorted}` → value.
    pub samples: HashMap<String, f64>,
    /// Family name → type.
    pub types: HashMap<String, String>,
}

impl Scrape {
    /// The value of one sample (0 when absent).
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples.get(&key(name, labels)).copied().unwrap_or(0.0)
    }
}

fn key(name: &str, labels: &[(&str, &str)]) -> String {
    let mut labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    labels.sort();
    format!("{name}{{{}}}", labels.join(","))
}

/// Parse `text` with the reference parser (fails the test on invalid text).
pub fn parse(text: &str) -> Scrape {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/prometheus-parse.sh"
    );
    let mut child = Command::new("bash")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run scripts/prometheus-parse.sh");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("parser");
    assert!(
        out.status.success(),
        "the reference parser refused the exposition: {}\n---\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: Value = serde_json::from_slice(&out.stdout).expect("parser output");
    let mut samples = HashMap::new();
    let mut types = HashMap::new();
    for s in parsed.as_array().expect("array") {
        let labels: Vec<(&str, &str)> = s["labels"]
            .as_object()
            .expect("labels")
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().expect("label value")))
            .collect();
        let name = s["name"].as_str().expect("name");
        samples.insert(key(name, &labels), s["value"].as_f64().expect("value"));
        types.insert(
            s["family"].as_str().expect("family").to_owned(),
            s["type"].as_str().expect("type").to_owned(),
        );
    }
    Scrape { samples, types }
}

/// GET `metrics`/metrics (must be 200, OpenMetrics text): the text and
/// its parse.
pub async fn scrape(http: &reqwest::Client, metrics: &str) -> (String, Scrape) {
    let r = http
        .get(format!("{metrics}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(r.status(), 200);
    let content_type = r.headers()["content-type"]
        .to_str()
        .expect("content type")
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = r.text().await.expect("text");
    let parsed = parse(&text);
    (text, parsed)
}
