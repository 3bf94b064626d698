//! What one `tend` run printed and the report files it wrote, for the
//! report tests (`tests/reports.rs`, `tests/ssh_reports.rs`,
//! `tests/ssh_plans.rs`), and the validators every report must pass: each
//! JSON line against the published schema (`docs/json-report.schema.json`),
//! the JUnit XML against the structure of the common JUnit schema.

#![allow(dead_code)]

use std::path::Path;
use std::sync::OnceLock;

/// Report file names, relative to the directory they are written in.
pub const JSON: &str = "report.json";
/// The JUnit file.
pub const JUNIT: &str = "junit.xml";
/// The Markdown file.
pub const MARKDOWN: &str = "summary.md";

/// What one run printed and wrote.
pub struct Reports {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub json: String,
    pub junit: String,
    pub markdown: String,
}

/// The `--json`, `--junit` and `--summary-md` options writing into `dir`.
pub fn options(dir: &Path) -> Vec<String> {
    let at = |f: &str| dir.join(f).display().to_string();
    vec![
        "--json".into(),
        at(JSON),
        "--junit".into(),
        at(JUNIT),
        "--summary-md".into(),
        at(MARKDOWN),
    ]
}

impl Reports {
    /// Reads the files written into `dir` by a run that printed `stdout`/`stderr`.
    pub fn read(dir: &Path, code: Option<i32>, stdout: String, stderr: String) -> Reports {
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
        Reports {
            code,
            stdout,
            stderr,
            json: read(JSON),
            junit: read(JUNIT),
            markdown: read(MARKDOWN),
        }
    }

    /// Asserts every report is valid: each JSON line against the schema,
    /// the JUnit XML against the JUnit structure.
    pub fn assert_valid(&self) {
        assert_json_lines_valid(&self.json);
        assert_junit_valid(&self.junit);
    }

    /// Asserts `needle` is in no output.
    pub fn assert_nowhere(&self, needle: &str, why: &str) {
        for (name, body) in [
            ("stdout", &self.stdout),
            ("stderr", &self.stderr),
            ("json", &self.json),
            ("junit", &self.junit),
            ("markdown", &self.markdown),
        ] {
            assert!(
                !body.contains(needle),
                "{why}: `{needle}` in {name}:\n{body}"
            );
        }
    }
}

/// The published JSON lines schema, compiled once.
fn schema() -> &'static jsonschema::Validator {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json-report.schema.json");
        let text = std::fs::read_to_string(&path).expect("docs/json-report.schema.json");
        let schema: serde_json::Value = serde_json::from_str(&text).expect("the schema is JSON");
        jsonschema::draft202012::new(&schema).expect("the schema is a valid JSON Schema")
    })
}

/// The errors of one JSON value against the published schema.
pub fn json_schema_errors(line: &serde_json::Value) -> Vec<String> {
    schema()
        .iter_errors(line)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Asserts every line of a JSON lines report parses and is valid against
/// the published schema, and that the report has a `run_start` and a `run_end`.
pub fn assert_json_lines_valid(report: &str) {
    assert!(!report.trim().is_empty(), "an empty JSON report");
    let mut events = Vec::new();
    for line in report.lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let errors = json_schema_errors(&value);
        assert!(errors.is_empty(), "invalid line {line}:\n{errors:#?}");
        events.push(value["event"].as_str().unwrap_or_default().to_string());
    }
    assert_eq!(events.first().map(String::as_str), Some("run_start"));
    assert_eq!(events.last().map(String::as_str), Some("run_end"));
}

/// The attributes the common JUnit schema (Jenkins' `junit-10.xsd`, which
/// GitLab, GitHub reporting actions and most CI systems read) allows on each
/// element; `file` on a testcase is the de-facto extension GitLab shows.
fn junit_attributes(element: &str) -> Option<&'static [&'static str]> {
    Some(match element {
        // `skipped` too, as most JUnit writers (and tend) total it there.
        "testsuites" => &[
            "name", "time", "tests", "failures", "disabled", "errors", "skipped",
        ],
        "testsuite" => &[
            "name",
            "tests",
            "failures",
            "errors",
            "group",
            "time",
            "disabled",
            "skipped",
            "timestamp",
            "hostname",
            "id",
            "package",
            "file",
            "log",
            "url",
            "version",
        ],
        "testcase" => &[
            "name",
            "assertions",
            "time",
            "classname",
            "status",
            "group",
            "file",
        ],
        "failure" | "error" => &["message", "type"],
        "skipped" => &["message"],
        "system-out" | "system-err" | "properties" => &[],
        "property" => &["name", "value"],
        _ => return None,
    })
}

/// Which elements may hold which (`None`: the document root).
fn junit_children(parent: Option<&str>) -> &'static [&'static str] {
    match parent {
        None => &["testsuites"],
        Some("testsuites") => &["testsuite"],
        Some("testsuite") => &["properties", "testcase", "system-out", "system-err"],
        Some("properties") => &["property"],
        Some("testcase") => &["skipped", "error", "failure", "system-out", "system-err"],
        _ => &[],
    }
}

/// Asserts `xml` is well-formed XML with the structure of the common JUnit
/// schema: known elements in allowed places, only allowed attributes, the
/// required ones present (`name` on suites and cases, `tests` on suites),
/// numbers where numbers go, and counts that add up.
pub fn assert_junit_valid(xml: &str) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<String> = Vec::new();
    // Per open testsuite (and the testsuites root): [tests, failures, skipped, errors] seen.
    let mut counted: Vec<[usize; 4]> = Vec::new();
    let mut declared: Vec<[Option<usize>; 4]> = Vec::new();
    let mut roots = 0;
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("invalid XML at {}: {e}\n{xml}", reader.buffer_position()));
        let (start, empty) = match &event {
            Event::Eof => break,
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            Event::End(_) => {
                let name = stack.pop().expect("an end tag has a start");
                if name == "testsuite" || name == "testsuites" {
                    let (seen, said) = (counted.pop().unwrap(), declared.pop().unwrap());
                    for (i, what) in ["tests", "failures", "skipped", "errors"]
                        .iter()
                        .enumerate()
                    {
                        if let Some(n) = said[i] {
                            assert_eq!(
                                n, seen[i],
                                "{name} says {what}=\"{n}\", has {}: {xml}",
                                seen[i]
                            );
                        }
                    }
                }
                continue;
            }
            Event::Text(t) => {
                let text = t.decode().expect("text decodes");
                let inside = stack.last().map(String::as_str);
                assert!(
                    text.trim().is_empty()
                        || matches!(
                            inside,
                            Some("system-out" | "system-err" | "failure" | "error" | "skipped")
                        ),
                    "text inside {inside:?}: {text:?}"
                );
                continue;
            }
            Event::GeneralRef(r) => {
                let name = r.decode().expect("reference decodes").into_owned();
                let known = quick_xml::escape::resolve_predefined_entity(&name).is_some()
                    || r.resolve_char_ref().ok().flatten().is_some();
                assert!(known, "unknown entity &{name}; in {xml}");
                continue;
            }
            Event::Decl(_) | Event::CData(_) | Event::Comment(_) => continue,
            other => panic!("unexpected XML {other:?} in {xml}"),
        };
        let Some(e) = start else { continue };
        let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let parent = stack.last().map(String::as_str);
        assert!(
            junit_children(parent).contains(&name.as_str()),
            "<{name}> inside {parent:?} is not JUnit: {xml}"
        );
        if parent.is_none() {
            roots += 1;
        }
        let allowed = junit_attributes(&name).unwrap_or_else(|| panic!("unknown element <{name}>"));
        let mut attrs = std::collections::BTreeMap::new();
        for a in e.attributes() {
            let a = a.expect("well-formed attribute");
            let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
            assert!(
                allowed.contains(&key.as_str()),
                "<{name}> has no attribute {key}: {xml}"
            );
            let value = a.unescape_value().expect("attribute value").into_owned();
            assert!(
                attrs.insert(key.clone(), value).is_none(),
                "{key} twice on <{name}>"
            );
        }
        let required: &[&str] = match name.as_str() {
            "testsuite" => &["name", "tests"],
            "testcase" | "property" => &["name"],
            _ => &[],
        };
        for r in required {
            assert!(attrs.contains_key(*r), "<{name}> lacks {r}: {xml}");
        }
        for (k, v) in &attrs {
            match k.as_str() {
                "tests" | "failures" | "errors" | "skipped" | "disabled" | "assertions" => {
                    v.parse::<usize>()
                        .unwrap_or_else(|_| panic!("{k}=\"{v}\" on <{name}> is not a count"));
                }
                "time" => assert!(
                    v.parse::<f64>().is_ok_and(|t| t >= 0.0),
                    "time=\"{v}\" on <{name}> is not a duration"
                ),
                _ => {}
            }
        }
        // What the case adds to the counts of its suite and of the root.
        let add = match name.as_str() {
            "testcase" => Some(0),
            "failure" => Some(1),
            "skipped" => Some(2),
            "error" => Some(3),
            _ => None,
        };
        if let Some(i) = add {
            for c in &mut counted {
                c[i] += 1;
            }
        }
        if name == "testsuite" || name == "testsuites" {
            let n = |k: &str| attrs.get(k).and_then(|v| v.parse().ok());
            let said = [n("tests"), n("failures"), n("skipped"), n("errors")];
            if empty {
                assert!(
                    said.iter().all(|n| n.unwrap_or(0) == 0),
                    "an empty {name} with counts"
                );
            } else {
                counted.push([0; 4]);
                declared.push(said);
            }
        }
        if !empty {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed {stack:?}");
    assert_eq!(roots, 1, "one <testsuites> root: {xml}");
}
