#!/usr/bin/env python3
"""Writes cases/filters.yml: one set_fact per expression (ignore_errors), so one
unsupported filter does not hide the others. Edit EXPRS and re-run."""
import json, os
EXPRS = r"""
default|{{ missing | default('dflt') }}
default_falsy|{{ '' | default('dflt', true) }}
d_alias|{{ missing | d('x') }}
combine|{{ d1 | combine(d2) }}
combine_rec|{{ d1 | combine(d2, recursive=True) }}
combine_list_merge|{{ {'l': [1]} | combine({'l': [2]}, list_merge='append') }}
dict2items|{{ d2 | dict2items }}
items2dict|{{ [{'key': 'k', 'value': 'v'}] | items2dict }}
dict2items_kv|{{ {'a': 1} | dict2items(key_name='n', value_name='v') }}
regex_replace|{{ s | regex_replace('[0-9]+', 'N') }}
regex_replace_groups|{{ 'a-b' | regex_replace('^([a-z])-([a-z])$', '\2-\1') }}
regex_replace_named|{{ 'a-b' | regex_replace('^(?P<x>[a-z])-(?P<y>[a-z])$', '\g<y>+\g<x>') }}
regex_search|{{ s | regex_search('W[a-z]+') }}
regex_search_group|{{ s | regex_search('([A-Za-z]+) ([A-Za-z]+)', '\2') }}
regex_search_none|{{ s | regex_search('zzz') }}
regex_findall|{{ 'a1b22c333' | regex_findall('[0-9]+') }}
regex_escape|{{ 'a.b*c' | regex_escape }}
to_json|{{ d1 | to_json }}
to_json_unicode|{{ {'k': 'é'} | to_json }}
to_nice_json|{{ d1 | to_nice_json }}
to_yaml|{{ d1 | to_yaml }}
to_nice_yaml|{{ users[0] | to_nice_yaml }}
to_nice_yaml_indent|{{ d1 | to_nice_yaml(indent=4) }}
to_nice_yaml_str|{{ {'s': 'yes', 'n': '012', 'e': '', 'm': 'a: b', 'l': ml} | to_nice_yaml }}
from_json|{{ '{"k": [1, 2]}' | from_json }}
from_yaml|{{ yml | from_yaml }}
selectattr|{{ users | selectattr('active') | map(attribute='name') | list }}
selectattr_eq|{{ users | selectattr('name', 'equalto', 'bob') | list }}
selectattr_in|{{ users | selectattr('name', 'in', ['bob', 'carol']) | map(attribute='age') | list }}
rejectattr|{{ users | rejectattr('active') | map(attribute='name') | list }}
map_upper|{{ ['a', 'b'] | map('upper') | list }}
map_regex|{{ ['a1', 'b2'] | map('regex_replace', '[0-9]', '') | list }}
select_test|{{ [1, 2, 3, 4] | select('even') | list }}
reject_none|{{ ['', 'a', none] | reject('none') | list }}
ternary_t|{{ true | ternary('yes', 'no') }}
ternary_none|{{ none | ternary('y', 'n', 'null') }}
b64encode|{{ 'hello' | b64encode }}
b64decode|{{ 'aGVsbG8=' | b64decode }}
hash_sha1|{{ 'hello' | hash('sha1') }}
hash_md5|{{ 'hello' | hash('md5') }}
hash_sha256|{{ 'hello' | hash('sha256') }}
checksum|{{ 'hello' | checksum }}
md5_filter|{{ 'hello' | md5 }}
sha1_filter|{{ 'hello' | sha1 }}
password_hash|{{ 'x' | password_hash('sha512', 'saltsalt') }}
password_hash_5000|{{ 'x' | password_hash('sha512', 'saltsalt', rounds=5000) }}
password_hash_sha256|{{ 'x' | password_hash('sha256', 'saltsalt') }}
unique|{{ [1, 2, 2, 3, 1] | unique }}
union|{{ [1, 2] | union([2, 3]) }}
intersect|{{ [1, 2] | intersect([2, 3]) }}
difference|{{ [1, 2] | difference([2, 3]) }}
symmetric_difference|{{ [1, 2] | symmetric_difference([2, 3]) }}
flatten|{{ [1, [2, [3, [4]]]] | flatten }}
flatten_1|{{ [1, [2, [3, [4]]]] | flatten(levels=1) }}
zip|{{ [1, 2] | zip(['a', 'b']) | list }}
zip_longest|{{ [1, 2] | zip_longest(['a']) | list }}
product|{{ [1, 2] | product(['a']) | list }}
subelements|{{ users | subelements('groups') | map('last') | list }}
sort_attr|{{ users | sort(attribute='age') | map(attribute='name') | list }}
sort_reverse|{{ [3, 1, 2] | sort(reverse=true) }}
max_min|{{ [[3, 1, 2] | max, [3, 1, 2] | min] }}
max_attr|{{ (users | max(attribute='age')).name }}
sum_start|{{ [[1], [2]] | sum(start=[]) }}
groupby|{{ users | groupby('active') | map('first') | list }}
batch|{{ [1, 2, 3] | batch(2) | list }}
slice|{{ [1, 2, 3] | slice(2) | list }}
first_last|{{ [users | first | json_query_free_default('x'), 1] if false else [1, 2] | last }}
int|{{ '42' | int }}
int_bad|{{ 'x' | int }}
int_base|{{ '0x1A' | int(base=16) }}
float|{{ '1.5' | float }}
bool_yes|{{ 'yes' | bool }}
bool_no|{{ 'off' | bool }}
bool_int|{{ 1 | bool }}
string|{{ 42 | string }}
quote|{{ "it's" | quote }}
basename|{{ '/a/b/c.txt' | basename }}
dirname|{{ '/a/b/c.txt' | dirname }}
splitext|{{ 'c.tar.gz' | splitext }}
path_join|{{ ['/a', 'b', 'c'] | path_join }}
realpath|{{ '/tmp/../tmp' | realpath }}
relpath|{{ '/a/b/c' | relpath('/a') }}
mandatory|{{ s | mandatory }}
comment|{{ 'hello' | comment }}
join|{{ ['a', 'b'] | join('-') }}
split|{{ 'a,b,c' | split(',') }}
trim|{{ '  x  ' | trim }}
replace|{{ 'aaa' | replace('a', 'b', 2) }}
truncate|{{ 'abcdefghijklmnopqrstuvwxyz' | truncate(10) }}
center|{{ 'x' | center(5) }}
indent|{{ ml | indent(2) }}
indent_first|{{ ml | indent(2, true) }}
wordcount|{{ s | wordcount }}
capitalize|{{ 'hELLO' | capitalize }}
title|{{ 'hello world' | title }}
format|{{ '%s=%d' | format('a', 3) }}
shuffle_seeded|{{ [1, 2, 3, 4, 5] | shuffle(seed='abc') }}
random_seeded|{{ 100 | random(seed='abc') }}
urlsplit|{{ 'https://user@example.com:8080/p?q=1' | urlsplit('hostname') }}
urlencode|{{ 'a b&c' | urlencode }}
human_readable|{{ 1048576 | human_readable }}
human_to_bytes|{{ '1K' | human_to_bytes }}
to_datetime_year|{{ ('2024-01-02 03:04:05' | to_datetime).year }}
strftime|{{ '%Y-%m-%d' | strftime(0) }}
extract|{{ ['a', 'b'] | map('extract', {'a': 1, 'b': 2}) | list }}
dict_fn|{{ dict([['a', 1], ['b', 2]]) }}
dict_zip|{{ dict(['a', 'b'] | zip([1, 2])) }}
range|{{ range(3) | list }}
length|{{ {'a': 1} | length }}
dictsort|{{ {'b': 1, 'a': 2} | dictsort }}
list_of_dict_keys|{{ {'b': 1, 'a': 2} | list }}
string_concat|{{ 'a' ~ 1 ~ none }}
plus_str_int|{{ 'a' + 1 | string }}
int_division|{{ 7 / 2 }}
floor_div|{{ 7 // 2 }}
power|{{ 2 ** 0.5 }}
bool_render|{{ true }}
none_render|{{ none }}
none_in_string|x{{ none }}y
list_in_string|x{{ [1, 'a'] }}y
dict_in_string|x{{ {'a': true} }}y
bool_in_string|x{{ true }}y
float_render|{{ 1.0 }}
math_log_pow_root|{{ [8 | log(2), 100 | log(10), 10 | log, 2 | pow(10), 4 | pow(0.5), 16 | root, 27 | root(3)] }}
float_text|x{{ 1e16 }} {{ 1.5e-7 }} {{ 2.0 ** 70 }} {{ 1e-5 }} {{ [1e16, 1e-5, (1, 2.5), "it's"] }}
big_int_text|{{ (2 ** 64) ~ '' }}
big_int_div|{{ 2 ** 64 // 2 ** 60 }}
big_int_parse|{{ ('18446744073709551616' | int) - 1 }}
neg_parens|{{ -(2 ** 63) }}
dt_sub_days|{{ (("2024-03-01" | to_datetime('%Y-%m-%d')) - ("2024-01-01" | to_datetime('%Y-%m-%d'))).days }}
dt_sub_text|x{{ ('2024-03-01 12:30:00' | to_datetime) - ('2023-12-31 23:59:59.250000' | to_datetime('%Y-%m-%d %H:%M:%S.%f')) }}
dt_sub_parts|{{ [(('2024-03-01' | to_datetime('%Y-%m-%d')) - ('2024-01-01 10:00:00' | to_datetime)).seconds, (('2024-03-01' | to_datetime('%Y-%m-%d')) - ('2024-01-01 10:00:00' | to_datetime)).total_seconds()] }}
dt_now_sub|{{ (now() - ('2020-01-01' | to_datetime('%Y-%m-%d'))).days > 100 }}
dt_now_utc_sub|{{ (now(utc=true) - ('2020-01-01' | to_datetime('%Y-%m-%d'))).days > 100 }}
dt_compare|{{ [('2024-03-01' | to_datetime('%Y-%m-%d')) > ('2024-01-01' | to_datetime('%Y-%m-%d')), now() < ('2020-01-01' | to_datetime('%Y-%m-%d'))] }}
dt_plus_delta|{{ ('2024-03-01' | to_datetime('%Y-%m-%d')) + (('2024-03-01' | to_datetime('%Y-%m-%d')) - ('2024-03-01 12:30:00' | to_datetime)) }}
dt_strftime|{{ ('2024-03-01 12:30:00' | to_datetime).strftime('%A %d %B %Y %H:%M') }}
dt_native|{{ '2024-03-01' | to_datetime('%Y-%m-%d') }}
dt_in_list|{{ [('2024-03-01' | to_datetime('%Y-%m-%d')), {'k': ('2024-03-01' | to_datetime('%Y-%m-%d'))}] }}
dt_to_json|{{ ('2024-03-01' | to_datetime('%Y-%m-%d')) | to_json }}
dt_vars_sub|{{ (dt_later - dt_start).days }} {{ dt_later - dt_start }} {{ dt_start | type_debug }}
dt_delta_native|{{ ('2024-03-01' | to_datetime('%Y-%m-%d')) - ('2024-01-01' | to_datetime('%Y-%m-%d')) }}
test_defined|{{ missing is defined }}
test_version|{{ '2.10' is version('2.9', '>') }}
test_version_compare|{{ '1.2.3' is version_compare('1.2.10', '<') }}
test_search|{{ s is search('World') }}
test_match|{{ s is match('World') }}
test_regex|{{ s is regex('^H') }}
test_subset|{{ [1] is subset([1, 2]) }}
test_truthy|{{ 'x' is truthy }}
test_string|{{ 1 is string }}
test_number|{{ '1' is number }}
test_mapping|{{ {} is mapping }}
test_iterable|{{ 'x' is iterable }}
test_sequence|{{ 'x' is sequence }}
test_contains|{{ [1, 2] is contains(2) }}
test_in|{{ 2 in [1, 2] }}
test_abs|{{ '/a' is abs }}
test_exists|{{ '/etc' is exists }}
test_directory|{{ '/etc' is directory }}
test_file|{{ '/etc/hostname' is file }}
type_list|{{ [] | type_debug }}
type_dict|{{ {} | type_debug }}
type_str|{{ 'x' | type_debug }}
type_int|{{ 1 | type_debug }}
type_bool|{{ true | type_debug }}
type_none|{{ none | type_debug }}
type_float|{{ 1.5 | type_debug }}
lookup_env|{{ lookup('env', 'COMPAT_ENV_PROBE') }}
lookup_env_default|{{ lookup('env', 'COMPAT_UNSET_XYZ', default='dflt') }}
query_list|{{ query('list', 1, 2) }}
lookup_pipe|{{ lookup('pipe', 'echo piped') }}
lookup_file|{{ lookup('file', 'files/static.txt') }}
lookup_items|{{ lookup('items', [1, 2]) }}
lookup_vars|{{ lookup('vars', 's') }}
lookup_template|{{ lookup('template', 'plain.j2') }}
lookup_first_found|{{ lookup('first_found', ['nope.txt', 'files/static.txt']) | basename }}
lookup_fileglob|{{ lookup('fileglob', 'files/*.txt', wantlist=True) | map('basename') | sort }}
lookup_sequence|{{ query('sequence', 'start=1 end=3') }}
lookup_dict|{{ query('dict', {'a': 1}) }}
now_type|{{ now() | type_debug }}
inventory_hostname|{{ inventory_hostname }}
groups|{{ groups }}
group_names|{{ group_names }}
hostvars_has|{{ 'localhost' in hostvars }}
hostvars_var|{{ hostvars['localhost']['inventory_hostname'] }}
playbook_dir_tail|{{ playbook_dir | basename }}
ansible_play_hosts|{{ ansible_play_hosts }}
ansible_play_batch|{{ ansible_play_batch }}
ansible_version_major|{{ ansible_version.major }}
omit_in_dict|{{ {'a': omit} | dict2items | length }}
vars_magic|{{ vars['s'] }}
inventory_hostname_short|{{ inventory_hostname_short }}
ansible_check_mode|{{ ansible_check_mode }}
role_names|{{ role_names | default('undef') }}
"""
def q(s):  # YAML double-quoted scalar
    return json.dumps(s, ensure_ascii=False)
rows = [l.split("|", 1) for l in EXPRS.strip("\n").split("\n")]
rows = [r for r in rows if r[0] != "first_last"]
out = ["# GENERATED by compat/gen_filters.py: every expression in its own set_fact (ignore_errors),",
       "# values compared via results.json; a missing value shows as ERROR",
       "- hosts: local", "  gather_facts: no", "  environment:", "    COMPAT_ENV_PROBE: probe",
       "  vars:",
       "    d1: {a: 1, b: {x: 1}}", "    d2: {b: {y: 2}, c: 3}", "    users:",
       "      - {name: alice, active: true, groups: [adm, dev], age: 30}",
       "      - {name: bob, active: false, groups: [dev], age: 25}",
       "      - {name: carol, active: true, groups: [], age: 35}",
       '    s: "Hello World 2024"', "    a: 1",
       "    dt_start: \"{{ '2024-01-01' | to_datetime('%Y-%m-%d') }}\"",
       "    dt_later: \"{{ '2024-03-01 06:00:00' | to_datetime }}\"", "  tasks:"]
for name, expr in rows:
    out += ["    - name: %s" % name, "      set_fact:", "        r_%s: %s" % (name, q(expr)),
            "      ignore_errors: true"]
dump = ", ".join("'%s': r_%s | default('ERROR')" % (n, n) for n, _ in rows)
out += ["    - copy:", '        dest: "{{ work }}/results.json"',
        '        content: "{{ {%s} | to_nice_json }}"' % dump]
os.makedirs(os.path.join(os.path.dirname(__file__), "cases"), exist_ok=True)
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases", "filters.yml"), "w") as f:
    f.write("\n".join(out) + "\n")
