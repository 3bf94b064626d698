//! Unit tests of the filters, with the outputs Ansible gives.

use minijinja::{Environment, UndefinedBehavior, Value, context};

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    super::register(&mut env);
    crate::template::jinja_tests::register(&mut env);
    env
}

/// Renders a template.
fn r(src: &str) -> String {
    env()
        .render_str(src, context! {})
        .unwrap_or_else(|e| panic!("{src}: {e:#}"))
}

/// Renders a template that must fail; returns the error message.
fn err(src: &str) -> String {
    match env().render_str(src, context! {}) {
        Ok(s) => panic!("{src}: expected an error, got {s:?}"),
        Err(e) => e.to_string(),
    }
}

/// Evaluates an expression.
fn ev(expr: &str) -> Value {
    let env = env();
    let e = env
        .compile_expression(expr)
        .unwrap_or_else(|e| panic!("{expr}: {e:#}"));
    e.eval(context! {})
        .unwrap_or_else(|e| panic!("{expr}: {e:#}"))
}

#[test]
fn default_and_undefined() {
    assert_eq!(r("{{ x | default('d') }}"), "d");
    assert_eq!(r("{{ x | d('d') }}"), "d");
    assert_eq!(r("{{ x | default }}"), "");
    assert_eq!(r("{{ 'v' | default('d') }}"), "v");
    assert_eq!(r("{{ '' | default('e', true) }}"), "e");
    assert_eq!(r("{{ 0 | default('e', boolean=true) }}"), "e");
    assert_eq!(r("{{ '' | default('e') }}"), "");
    assert_eq!(r("{{ none | default('e') }}"), "None");
    assert_eq!(r("{{ {'a': 1}.b | default('z') }}"), "z");
    assert_eq!(ev("x is defined"), Value::from(false));
    assert!(err("{{ x }}").contains("undefined"));
}

#[test]
fn bool_filter() {
    for t in [
        "'yes'", "'on'", "'1'", "'true'", "'y'", "'t'", "'YES'", "'True'", "1", "true",
    ] {
        assert_eq!(ev(&format!("{t} | bool")), Value::from(true), "{t}");
    }
    for f in [
        "'no'", "'off'", "'0'", "'false'", "'n'", "'foo'", "0", "2", "none", "false",
    ] {
        assert_eq!(ev(&format!("{f} | bool")), Value::from(false), "{f}");
    }
    assert!(err("{{ x | bool }}").contains("bool: input is undefined"));
}

#[test]
fn int_and_float() {
    assert_eq!(r("{{ '42' | int }}"), "42");
    assert_eq!(r("{{ '42.7' | int }}"), "42");
    assert_eq!(r("{{ 3.9 | int }}"), "3");
    assert_eq!(r("{{ 'x' | int }}"), "0");
    assert_eq!(r("{{ 'x' | int(7) }}"), "7");
    assert_eq!(r("{{ 'x' | int(default=5) }}"), "5");
    assert_eq!(r("{{ '0x1f' | int(base=16) }}"), "31");
    assert_eq!(r("{{ '1f' | int(0, 16) }}"), "31");
    assert_eq!(r("{{ '0b101' | int(base=0) }}"), "5");
    assert_eq!(
        r("{{ ' 12 ' | int }} {{ '1_000' | int }} {{ true | int }}"),
        "12 1000 1"
    );
    assert_eq!(r("{{ none | int }} {{ [1] | int }}"), "0 0");
    assert_eq!(
        r("{{ '1.5' | float }} {{ 'x' | float }} {{ 2 | float }} {{ ' 2.5 ' | float }}"),
        "1.5 0.0 2.0 2.5"
    );
    assert_eq!(r("{{ 'x' | float(1.5) }}"), "1.5");
    assert!(ev("'inf' | float").to_string().contains("inf"));
    assert!(err("{{ 'a' | int(base=99) }}").contains("int: base"));
}

#[test]
fn numbers_like_python() {
    assert_eq!(
        r("{{ 10 / 4 }} {{ 10 // 4 }} {{ 10 / 5 }} {{ 7 % 3 }} {{ 2 ** 10 }}"),
        "2.5 2 2.0 1 1024"
    );
    assert_eq!(
        r("{{ 1.5 | string }} {{ 1e16 | string }} {{ 1 | string }}"),
        "1.5 1e+16 1"
    );
    assert_eq!(ev("1 | string"), Value::from("1"));
}

#[test]
fn strings() {
    assert_eq!(r("{{ 'abc' | upper }} {{ 'AbC' | lower }}"), "ABC abc");
    assert_eq!(
        r("{{ 'hello world' | capitalize }}|{{ 'hello world' | title }}"),
        "Hello world|Hello World"
    );
    assert_eq!(r("{{ '  x  ' | trim }}|{{ 'xxaxx' | trim('x') }}"), "x|a");
    assert_eq!(
        r("{{ ['a', 'b'] | join(',') }} {{ [1, 2] | join }}"),
        "a,b 12"
    );
    assert_eq!(
        r("{{ 'aaa' | replace('a', 'b') }} {{ 'aaa' | replace('a', 'b', 2) }}"),
        "bbb bba"
    );
}

#[test]
fn split() {
    assert_eq!(r("{{ 'a b  c' | split }}"), "['a', 'b', 'c']");
    assert_eq!(r("{{ ' a\tb\n' | split }}"), "['a', 'b']");
    assert_eq!(r("{{ 'a,b,,c' | split(',') }}"), "['a', 'b', '', 'c']");
    assert_eq!(r("{{ 'a,b,c' | split(',', 1) }}"), "['a', 'b,c']");
    assert_eq!(r("{{ '  a b  c  ' | split(none, 1) }}"), "['a', 'b  c  ']");
    assert_eq!(r("{{ '' | split }} {{ '' | split(',') }}"), "[] ['']");
    assert!(err("{{ 'a' | split('') }}").contains("split: empty separator"));
}

#[test]
fn regex_replace() {
    assert_eq!(r("{{ 'abc' | regex_replace('(b)', '[\\\\1]') }}"), "a[b]c");
    assert_eq!(
        r("{{ 'abc' | regex_replace('(?P<x>b)', '<\\\\g<x>>') }}"),
        "a<b>c"
    );
    assert_eq!(
        r("{{ 'abc' | regex_replace('(b)', '\\\\g<1>\\\\g<0>') }}"),
        "abbc"
    );
    assert_eq!(
        r("{{ 'ABC' | regex_replace('b', 'x', ignorecase=true) }}"),
        "AxC"
    );
    assert_eq!(
        r("{{ 'a\\nb' | regex_replace('^', '> ', multiline=true) }}"),
        "> a\n> b"
    );
    assert_eq!(r("{{ 'aaa' | regex_replace('a', 'b', count=2) }}"), "bba");
    assert_eq!(r("{{ 'abxd' | regex_replace('x*', '-') }}"), "-a-b--d-");
    assert_eq!(r("{{ 'a$b' | regex_replace('\\\\$', '$1') }}"), "a$1b");
    assert_eq!(r("{{ 'a{b}c' | regex_replace('{b}', '-') }}"), "a-c");
    assert_eq!(r("{{ 'a[b' | regex_replace('[[]', '-') }}"), "a-b");
    assert_eq!(r("{{ 'ab\\n' | regex_replace('b\\\\Z', 'X') }}"), "ab\n");
    assert_eq!(
        r("{{ 'host-01' | regex_replace('^host-(\\\\d+)$', 'node\\\\1') }}"),
        "node01"
    );
    assert_eq!(r("{{ 42 | regex_replace('2', '3') }}"), "43");
    let e = err("{{ 'abc' | regex_replace('(', 'x') }}");
    assert!(
        e.contains("regex_replace: invalid regular expression '('"),
        "{e}"
    );
    assert!(err("{{ 'abc' | regex_replace('b', '\\\\3') }}").contains("invalid group reference 3"));
    assert!(err("{{ 'abc' | regex_replace('(?<=a)b', 'x') }}").contains("look-around"));
    assert!(
        err("{{ 'ab' | regex_replace('a', 'x', mandatory_count=2) }}")
            .contains("should match 2 times")
    );
}

#[test]
fn regex_search_findall_escape() {
    assert_eq!(r("{{ 'foo bar' | regex_search('b\\\\w+') }}"), "bar");
    assert_eq!(ev("'foo' | regex_search('x')"), Value::from(()));
    assert_eq!(
        r("{{ 'foo=bar' | regex_search('(\\\\w+)=(\\\\w+)', '\\\\2', '\\\\1') }}"),
        "['bar', 'foo']"
    );
    assert_eq!(
        r("{{ 'foo' | regex_search('(?P<n>o+)', '\\\\g<n>') }}"),
        "['oo']"
    );
    assert_eq!(r("{{ 'FOO' | regex_search('o+', ignorecase=true) }}"), "OO");
    assert!(err("{{ 'a' | regex_search('(a)', 'x') }}").contains("regex_search: unknown argument"));
    assert_eq!(
        r("{{ 'a1b22c333' | regex_findall('\\\\d+') }}"),
        "['1', '22', '333']"
    );
    assert_eq!(
        r("{{ 'k=v, a=b' | regex_findall('(\\\\w)=\\\\w') }}"),
        "['k', 'a']"
    );
    assert_eq!(
        r("{{ 'k=v, a=b' | regex_findall('(\\\\w)=(\\\\w)') }}"),
        "[('k', 'v'), ('a', 'b')]"
    );
    assert_eq!(
        r("{{ 'a\\nb' | regex_findall('^\\\\w$', multiline=true) }}"),
        "['a', 'b']"
    );
    assert_eq!(r("{{ 'a.b*c d' | regex_escape }}"), "a\\.b\\*c\\ d");
    assert_eq!(
        r("{{ 'a.b*c' | regex_escape('posix_basic') }}"),
        "a\\.b\\*c"
    );
}

#[test]
fn json() {
    assert_eq!(r("{{ {'a': 1} | to_json }}"), "{\"a\": 1}");
    assert_eq!(
        r("{{ {'a': 1, 'b': [1, 2.5, none, true], 'c': 'é'} | to_json }}"),
        "{\"a\": 1, \"b\": [1, 2.5, null, true], \"c\": \"\\u00e9\"}"
    );
    assert_eq!(r("{{ 'é' | to_json(ensure_ascii=false) }}"), "\"é\"");
    assert_eq!(
        r("{{ {'b': 1, 'a': 'x'} | to_json(sort_keys=true) }}"),
        "{\"a\": \"x\", \"b\": 1}"
    );
    assert_eq!(
        r("{{ [1e20, 0.0001, 1e-5, 1.0] | to_json }}"),
        "[1e+20, 0.0001, 1e-05, 1.0]"
    );
    assert_eq!(
        r("{{ {1: 'a', none: 'b', 1.5: 'c'} | to_json }}"),
        "{\"1\": \"a\", \"null\": \"b\", \"1.5\": \"c\"}"
    );
    assert_eq!(
        r("{{ {'b': 1, 'a': {'c': [1, 2]}, 'e': []} | to_nice_json }}"),
        "{\n    \"a\": {\n        \"c\": [\n            1,\n            2\n        ]\n    },\n    \"b\": 1,\n    \"e\": []\n}"
    );
    assert_eq!(
        r("{{ {'a': none} | to_nice_json(indent=2) }}"),
        "{\n  \"a\": null\n}"
    );
    assert_eq!(
        r("{{ '{\"a\": [1, 2, {\"b\": null}]}' | from_json }}"),
        "{'a': [1, 2, {'b': None}]}"
    );
    assert_eq!(ev("('{\"a\": 1.5}' | from_json).a"), Value::from(1.5));
    assert!(err("{{ '{' | from_json }}").contains("from_json: invalid JSON"));
    assert!(err("{{ x | to_json }}").contains("to_json"));
}

#[test]
fn yaml_dump() {
    let data =
        "{'b': 1, 'a': {'c': [1, 2]}, 'list': [{'n': 1, 'm': 2}], 's': 'yes', 'e': '', 'z': {}}";
    assert_eq!(
        r(&format!("{{{{ {data} | to_yaml }}}}")),
        "a:\n  c: [1, 2]\nb: 1\ne: ''\nlist:\n- {m: 2, n: 1}\ns: 'yes'\nz: {}\n"
    );
    assert_eq!(
        r(&format!("{{{{ {data} | to_nice_yaml }}}}")),
        "a:\n    c:\n    - 1\n    - 2\nb: 1\ne: ''\nlist:\n-   m: 2\n    n: 1\ns: 'yes'\nz: {}\n"
    );
    assert_eq!(r("{{ {'a': 1} | to_yaml }}"), "{a: 1}\n");
    assert_eq!(
        r("{{ {'b': 1, 'a': 2} | to_nice_yaml(sort_keys=false) }}"),
        "b: 1\na: 2\n"
    );
    assert_eq!(r("{{ {'a': 1} | to_nice_yaml(indent=2) }}"), "a: 1\n");
    assert_eq!(r("{{ 'abc' | to_yaml }}"), "abc\n...\n");
    assert_eq!(r("{{ [] | to_yaml }}"), "[]\n");
    assert_eq!(
        r(
            "{{ ['a', 'b: c', '- x', '#no', 'a #b', '123', 'null', '1.5', 'tab\there', 1.0, 1e20, none, true] | to_nice_yaml }}"
        ),
        "- a\n- 'b: c'\n- '- x'\n- '#no'\n- 'a #b'\n- '123'\n- 'null'\n- '1.5'\n- \"tab\\there\"\n- 1.0\n- 1.0e+20\n- null\n- true\n"
    );
    assert_eq!(r("{{ [\"it's\"] | to_nice_yaml }}"), "- it's\n");
    assert_eq!(
        r("{{ [' lead', 'multi\nline'] | to_nice_yaml }}"),
        "- ' lead'\n- 'multi\n\n    line'\n"
    );
    assert_eq!(
        r("{{ [[1, 2], {'a': [1]}] | to_nice_yaml }}"),
        "-   - 1\n    - 2\n-   a:\n    - 1\n"
    );
    let long = "a ".repeat(50);
    assert_eq!(
        r(&format!(
            "{{{{ {{'k': '{}'}} | to_nice_yaml }}}}",
            long.trim()
        )),
        format!(
            "k: {}\n    {}\n",
            "a ".repeat(40).trim(),
            "a ".repeat(10).trim()
        )
    );
}

#[test]
fn yaml_load() {
    assert_eq!(
        r("{{ 'a: yes\\nb: 0644\\nc: [1, 2]\\nd: ~\\ne: 1.5\\n' | from_yaml }}"),
        "{'a': True, 'b': 420, 'c': [1, 2], 'd': None, 'e': 1.5}"
    );
    assert_eq!(
        r("{{ '---\\na: 1\\n---\\nb: 2\\n' | from_yaml_all }}"),
        "[{'a': 1}, {'b': 2}]"
    );
    assert_eq!(ev("'' | from_yaml"), Value::from(()));
    assert_eq!(ev("{'a': 1} | from_yaml"), ev("{'a': 1}"));
    assert!(err("{{ 'a: [' | from_yaml }}").contains("from_yaml: invalid YAML"));
}

#[test]
fn base64_and_hashes() {
    assert_eq!(
        r("{{ 'hello' | b64encode }} {{ 'aGVsbG8=' | b64decode }}"),
        "aGVsbG8= hello"
    );
    assert_eq!(r("{{ 'é' | b64encode }}"), "w6k=");
    assert_eq!(r("{{ 'a' | b64encode(encoding='utf-16-le') }}"), "YQA=");
    assert!(err("{{ 'x' | b64decode }}").contains("b64decode"));
    assert_eq!(
        r("{{ 'test' | hash }}"),
        "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
    );
    assert_eq!(
        r("{{ 'test' | hash('md5') }}"),
        "098f6bcd4621d373cade4e832627b4f6"
    );
    assert_eq!(
        r("{{ 'test' | hash('sha256') }}"),
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    );
    assert_eq!(r("{{ 'test' | hash('sha512') }}").len(), 128);
    assert_eq!(
        r("{{ 'test' | checksum }}"),
        "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
    );
    assert_eq!(
        r("{{ 'test' | sha1 }}"),
        "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
    );
    assert_eq!(r("{{ 'test' | md5 }}"), "098f6bcd4621d373cade4e832627b4f6");
    assert!(err("{{ 'test' | hash('foo') }}").contains("hash: unsupported hash type 'foo'"));
}

#[test]
fn paths() {
    assert_eq!(
        r("{{ '/etc/foo.txt' | basename }} {{ '/etc/foo.txt' | dirname }}"),
        "foo.txt /etc"
    );
    assert_eq!(
        r("{{ '/etc/' | basename }}|{{ 'foo' | dirname }}|{{ '/' | dirname }}"),
        "||/"
    );
    assert_eq!(
        r("{{ '/etc/foo.tar.gz' | splitext }}"),
        "('/etc/foo.tar', '.gz')"
    );
    assert_eq!(
        r("{{ '.bashrc' | splitext }} {{ 'a.d/b' | splitext }}"),
        "('.bashrc', '') ('a.d/b', '')"
    );
    assert_eq!(
        r("{{ ['/a', 'b', 'c'] | path_join }} {{ ['/a', '/b', 'c'] | path_join }}"),
        "/a/b/c /b/c"
    );
    assert_eq!(r("{{ 'x/y' | path_join }}"), "x/y");
    assert_eq!(
        r("{{ '/a/b/c' | relpath('/a/d') }} {{ '/a' | relpath('/a') }}"),
        "../b/c ."
    );
    assert_eq!(r("{{ '/usr/../etc/./x' | realpath }}"), "/etc/x");
    assert_eq!(r("{{ '/x' | expanduser }}"), "/x");
    if let Ok(home) = std::env::var("HOME") {
        assert_eq!(
            r("{{ '~/x' | expanduser }}"),
            format!("{}/x", home.trim_end_matches('/'))
        );
    }
}

#[test]
fn combine() {
    assert_eq!(
        r("{{ {'a': 1, 'b': {'x': 1}} | combine({'b': {'y': 2}, 'c': 3}) }}"),
        "{'a': 1, 'b': {'y': 2}, 'c': 3}"
    );
    assert_eq!(
        r("{{ {'a': 1, 'b': {'x': 1}} | combine({'b': {'y': 2}}, recursive=true) }}"),
        "{'a': 1, 'b': {'x': 1, 'y': 2}}"
    );
    assert_eq!(
        r("{{ {'a': 1} | combine({'b': 2}, {'a': 3}) }}"),
        "{'a': 3, 'b': 2}"
    );
    assert_eq!(
        r("{{ [{'a': 1}, {'b': 2}] | combine }}"),
        "{'a': 1, 'b': 2}"
    );
    let lm = |mode: &str| {
        r(&format!(
            "{{{{ {{'a': [1, 2]}} | combine({{'a': [2, 3]}}, list_merge='{mode}') }}}}"
        ))
    };
    assert_eq!(lm("replace"), "{'a': [2, 3]}");
    assert_eq!(lm("keep"), "{'a': [1, 2]}");
    assert_eq!(lm("append"), "{'a': [1, 2, 2, 3]}");
    assert_eq!(lm("prepend"), "{'a': [2, 3, 1, 2]}");
    assert_eq!(lm("append_rp"), "{'a': [1, 2, 3]}");
    assert_eq!(lm("prepend_rp"), "{'a': [2, 3, 1]}");
    assert_eq!(
        r(
            "{{ {'x': {'a': [1]}} | combine({'x': {'a': [2]}}, recursive=true, list_merge='append') }}"
        ),
        "{'x': {'a': [1, 2]}}"
    );
    assert!(err("{{ {'a': 1} | combine(1) }}").contains("combine: expected dictionaries"));
    assert!(err("{{ {'a': 1} | combine({}, list_merge='x') }}").contains("list_merge"));
    assert!(err("{{ {'a': 1} | combine({}, foo=1) }}").contains("foo"));
}

#[test]
fn dict_conversions() {
    assert_eq!(
        r("{{ {'a': 1, 'b': 2} | dict2items }}"),
        "[{'key': 'a', 'value': 1}, {'key': 'b', 'value': 2}]"
    );
    assert_eq!(
        r("{{ {'a': 1} | dict2items(key_name='k', value_name='v') }}"),
        "[{'k': 'a', 'v': 1}]"
    );
    assert_eq!(
        r("{{ [{'key': 'a', 'value': 1}] | items2dict }}"),
        "{'a': 1}"
    );
    assert_eq!(
        r("{{ [{'k': 'a', 'v': 1}] | items2dict(key_name='k', value_name='v') }}"),
        "{'a': 1}"
    );
    assert!(err("{{ [1] | dict2items }}").contains("dict2items: requires a dictionary"));
    assert!(err("{{ [{'x': 1}] | items2dict }}").contains("items2dict"));
    assert_eq!(
        r("{{ {'a': 1} | items | list }} {{ [['a', 1]] | dict }} {{ 'abc' | list }}"),
        "[('a', 1)] {'a': 1} ['a', 'b', 'c']"
    );
}

#[test]
fn jinja_list_builtins() {
    assert_eq!(
        r(
            "{{ [{'x': 3, 'n': 'a'}, {'x': 1, 'n': 'b'}] | selectattr('x', 'equalto', 3) | map(attribute='n') | list }}"
        ),
        "['a']"
    );
    assert_eq!(
        r(
            "{{ [{'x': 3, 'n': 'a'}, {'n': 'b'}] | selectattr('x', 'defined') | map(attribute='n') | list }}"
        ),
        "['a']"
    );
    assert_eq!(
        r(
            "{{ [{'x': 3, 'n': 'a'}, {'n': 'b'}] | rejectattr('x', 'defined') | map(attribute='n') | list }}"
        ),
        "['b']"
    );
    assert_eq!(
        r(
            "{{ [{'n': 'ab'}, {'n': 'b'}] | selectattr('n', 'match', 'a') | map(attribute='n') | list }}"
        ),
        "['ab']"
    );
    assert_eq!(
        r(
            "{{ ['ab', 'ba'] | select('match', 'a') | list }} {{ ['ab', 'ba'] | reject('search', '^b') | list }}"
        ),
        "['ab'] ['ab']"
    );
    assert_eq!(
        r(
            "{{ ['a', 'b'] | map('upper') | list }} {{ ['ab', 'cb'] | map('regex_replace', 'b', 'x') | list }}"
        ),
        "['A', 'B'] ['ax', 'cx']"
    );
    assert_eq!(
        r("{{ [{'a': 1}, {}] | map(attribute='a', default=0) | list }}"),
        "[1, 0]"
    );
    assert_eq!(
        r(
            "{{ [1, 2, 3] | first }} {{ [1, 2, 3] | last }} {{ [1, 2, 3] | length }} {{ 'abc' | count }}"
        ),
        "1 3 3 3"
    );
    assert_eq!(
        r("{{ [3, 1] | min }} {{ [3, 1] | max }} {{ [{'a': 2}, {'a': 5}] | max(attribute='a') }}"),
        "1 3 {'a': 5}"
    );
    assert_eq!(
        r(
            "{{ [1, 2] | sum }} {{ [{'a': 2}, {'a': 5}] | sum(attribute='a') }} {{ [[1], [2]] | sum(start=[]) }}"
        ),
        "3 7 [1, 2]"
    );
}

#[test]
fn set_theory() {
    assert_eq!(r("{{ ['a', 'A', 'b', 'a'] | unique }}"), "['a', 'b']");
    assert_eq!(
        r("{{ ['a', 'A'] | unique(case_sensitive=true) }}"),
        "['a', 'A']"
    );
    assert_eq!(r("{{ [1, 2] | union([2, 3]) }}"), "[1, 2, 3]");
    assert_eq!(r("{{ [1, 2, 2] | intersect([2, 3]) }}"), "[2]");
    assert_eq!(r("{{ [1, 2, 1] | difference([2, 3]) }}"), "[1]");
    assert_eq!(r("{{ [1, 2] | symmetric_difference([2, 3]) }}"), "[1, 3]");
}

#[test]
fn flatten_zip_product_sort() {
    assert_eq!(r("{{ [1, [2, [3, [4]]]] | flatten }}"), "[1, 2, 3, 4]");
    assert_eq!(
        r("{{ [1, [2, [3, [4]]]] | flatten(levels=1) }}"),
        "[1, 2, [3, [4]]]"
    );
    assert_eq!(r("{{ [1, [2, [3]]] | flatten(1) }}"), "[1, 2, [3]]");
    assert_eq!(r("{{ [1, none, 'null', [2]] | flatten }}"), "[1, 2]");
    assert_eq!(
        r("{{ [1, none, [2]] | flatten(skip_nulls=false) }}"),
        "[1, None, 2]"
    );
    assert_eq!(
        r("{{ [1, 2] | zip(['a', 'b', 'c']) | list }}"),
        "[(1, 'a'), (2, 'b')]"
    );
    assert_eq!(
        r("{{ [1, 2, 3] | zip_longest(['a'], fillvalue='-') | list }}"),
        "[(1, 'a'), (2, '-'), (3, '-')]"
    );
    assert_eq!(
        r("{{ [1] | zip_longest([2, 3]) | list }}"),
        "[(1, 2), (None, 3)]"
    );
    assert_eq!(
        r("{{ [1, 2] | product(['a', 'b']) | list }}"),
        "[(1, 'a'), (1, 'b'), (2, 'a'), (2, 'b')]"
    );
    assert_eq!(r("{{ [1, 2] | product(repeat=2) | list | length }}"), "4");
    assert_eq!(
        r("{{ ['b', 'A', 'c'] | sort }} {{ ['b', 'A'] | sort(case_sensitive=true) }}"),
        "['A', 'b', 'c'] ['A', 'b']"
    );
    assert_eq!(
        r("{{ [3, 1, 2] | sort(true) }} {{ [3, 1, 2] | sort(reverse=true) }}"),
        "[3, 2, 1] [3, 2, 1]"
    );
    assert_eq!(
        r("{{ [{'a': 2}, {'a': 1}] | sort(attribute='a') }}"),
        "[{'a': 1}, {'a': 2}]"
    );
}

#[test]
fn ternary_mandatory_type_debug() {
    assert_eq!(
        r("{{ true | ternary('y', 'n') }} {{ 0 | ternary('y', 'n') }}"),
        "y n"
    );
    assert_eq!(
        r("{{ none | ternary('y', 'n', 'null') }} {{ none | ternary('y', 'n') }}"),
        "null n"
    );
    assert_eq!(r("{{ 1 | mandatory }}"), "1");
    assert!(err("{{ x | mandatory }}").contains("mandatory: Mandatory variable not defined."));
    assert!(err("{{ x | mandatory('custom msg') }}").contains("custom msg"));
    assert_eq!(
        r(
            "{{ 'a' | type_debug }} {{ 1 | type_debug }} {{ 1.0 | type_debug }} {{ true | type_debug }} {{ {} | type_debug }} {{ [] | type_debug }} {{ none | type_debug }}"
        ),
        "str int float bool dict list NoneType"
    );
}

#[test]
fn quote_and_comment() {
    assert_eq!(r("{{ \"it's\" | quote }}"), "'it'\"'\"'s'");
    assert_eq!(
        r(
            "{{ 'abc' | quote }} {{ '' | quote }} {{ 'a b' | quote }} {{ none | quote }} {{ 'a/b-c.d:e' | quote }}"
        ),
        "abc '' 'a b' '' a/b-c.d:e"
    );
    assert_eq!(r("{{ 'hello' | comment }}"), "#\n# hello\n#");
    assert_eq!(r("{{ 'a\\nb' | comment('c') }}"), "//\n// a\n// b\n//");
    assert_eq!(r("{{ 'x' | comment('cblock') }}"), "/*\n *\n * x\n *\n */");
    assert_eq!(r("{{ 'a' | comment('erlang') }}"), "%\n% a\n%");
    assert_eq!(
        r("{{ 'a' | comment(style='xml') }}"),
        "<!--\n -\n - a\n -\n-->"
    );
    assert_eq!(
        r("{{ 'a' | comment(decoration='; ', prefix_count=2) }}"),
        ";\n;\n; a\n;"
    );
    assert_eq!(r("{{ 'a\\n\\nb' | comment }}"), "#\n# a\n#\n# b\n#");
    assert!(err("{{ 'a' | comment('foo') }}").contains("comment: unknown style"));
}

#[test]
fn uuid_url_sizes() {
    assert_eq!(
        r("{{ 'example.com' | to_uuid }}"),
        "ae780c3a-a3ab-53c2-bfb4-098da300b3fe"
    );
    assert_eq!(
        r("{{ 'www.example.com' | to_uuid(namespace='6ba7b810-9dad-11d1-80b4-00c04fd430c8') }}"),
        "2ed6657d-e927-568b-95e1-2665a8aea6a2"
    );
    assert_eq!(
        r("{{ 'https://user:pw@Example.com:8080/p/a?q=1#frag' | urlsplit }}"),
        "{'fragment': 'frag', 'hostname': 'example.com', 'netloc': 'user:pw@Example.com:8080', 'password': 'pw', 'path': '/p/a', 'port': 8080, 'query': 'q=1', 'scheme': 'https', 'username': 'user'}"
    );
    assert_eq!(
        r("{{ 'https://example.com/x' | urlsplit('hostname') }}"),
        "example.com"
    );
    assert_eq!(
        ev("'https://example.com/x' | urlsplit('port')"),
        Value::from(())
    );
    assert!(
        err("{{ 'http://x' | urlsplit('foo') }}").contains("urlsplit: unknown URL component: foo")
    );
    assert_eq!(
        r("{{ 1024 | human_readable }} {{ 10 | human_readable }} {{ 0 | human_readable }}"),
        "1.00 KB 10.00 Bytes 0.00 Bytes"
    );
    assert_eq!(
        r("{{ 1048576 | human_readable(isbits=true) }} {{ 2048 | human_readable(unit='M') }}"),
        "1.00 Mb 0.00 MB"
    );
    assert_eq!(
        r("{{ 1536 | human_readable }} {{ 1099511627776 | human_readable }}"),
        "1.50 KB 1.00 TB"
    );
    assert_eq!(
        r(
            "{{ '1K' | human_to_bytes }} {{ '1.5 MB' | human_to_bytes }} {{ '10' | human_to_bytes }}"
        ),
        "1024 1572864 10"
    );
    assert_eq!(
        r("{{ '2' | human_to_bytes(default_unit='K') }} {{ '1Mb' | human_to_bytes(isbits=true) }}"),
        "2048 1048576"
    );
    assert_eq!(
        r("{{ '1 byte' | human_to_bytes }} {{ '2 kilobytes' | human_to_bytes }}"),
        "1 2048"
    );
    assert!(err("{{ '1Mb' | human_to_bytes }}").contains("human_to_bytes: failed to convert 1Mb"));
    assert!(err("{{ 'abc' | human_to_bytes }}").contains("human_to_bytes: can't interpret"));
    assert!(err("{{ '1 Q' | human_to_bytes }}").contains("human_to_bytes"));
}

#[test]
fn no_panics_on_odd_input() {
    let exprs = [
        "none | regex_replace('a', 'b')",
        "'a' | regex_replace('\\\\')",
        "'a' | regex_replace('a', '\\\\')",
        "'a' | regex_replace('[', 'b')",
        "'a' | regex_replace('a{', 'b')",
        "'a' | regex_replace('a{2', 'b')",
        "'a' | regex_replace('a', '\\\\g<')",
        "'a' | regex_replace('a', '\\\\g<x>')",
        "'ä' | regex_replace('', '-')",
        "[] | to_nice_yaml",
        "{} | to_json",
        "'\\x00\\x01' | to_yaml",
        "'' | to_yaml",
        "'\u{2028}' | to_yaml",
        "'ab' | b64decode",
        "'' | b64decode",
        "none | human_readable",
        "'' | human_to_bytes",
        "'.' | human_to_bytes",
        "'' | urlsplit",
        "'::' | urlsplit",
        "'http://h:99999' | urlsplit",
        "'http://h:x' | urlsplit",
        "'' | splitext",
        "'' | basename",
        "'' | relpath",
        "'' | to_uuid",
        "[] | combine",
        "[] | flatten",
        "1 | flatten",
        "[] | zip",
        "[] | product",
        "'' | comment",
        "'x' | comment(newline='')",
        "1 | dict2items",
        "'a' | dict",
        "'' | from_json",
        "'[' | from_yaml_all",
        "1 | split",
        "'a' | int(base=1)",
        "'' | version('1')",
    ];
    let env = env();
    for expr in exprs {
        if let Ok(e) = env.compile_expression(expr) {
            let _ = e.eval(context! {});
        }
    }
}
