use super::*;
use proptest::prelude::*;

#[test]
fn quoting_escapes_comments_and_blank_lines() {
    let os = parse(concat!(
        "# a comment\n",
        "\n",
        "   \n",
        "NAME=\"Debian GNU/Linux\"\n",
        "ID=debian\n",
        "VERSION='10 (buster)'\n",
        "ESCAPED=\"a \\\"quoted\\\" \\$word\\\\ and \\n kept\"\n",
        "MIXED=ab\"c d\"'e'\n",
        "TRAILING=\"x\"   # comment after the value\n",
        "WINDOWS=\"crlf\"\r\n",
        "  INDENTED=yes\n",
    ));
    assert!(os.warnings.is_empty(), "{:?}", os.warnings);
    assert_eq!(os.get("NAME"), Some("Debian GNU/Linux"));
    assert_eq!(os.get("ID"), Some("debian"));
    assert_eq!(os.get("VERSION"), Some("10 (buster)"));
    assert_eq!(os.get("ESCAPED"), Some("a \"quoted\" $word\\ and \\n kept"));
    assert_eq!(os.get("MIXED"), Some("abc de"));
    assert_eq!(os.get("TRAILING"), Some("x"));
    assert_eq!(os.get("WINDOWS"), Some("crlf"));
    assert_eq!(os.get("INDENTED"), Some("yes"));
}

#[test]
fn bad_lines_are_skipped_with_their_line_numbers() {
    let os = parse(concat!(
        "ID=debian\n",
        "just words\n",
        "KEY = spaced\n",
        "OPEN=\"never closed\n",
        "1ABC=digit\n",
        "UNQUOTED=two words\n",
        "EXPAND=$HOME\n",
        "VERSION_ID=\"10\"\n",
    ));
    let lines: Vec<usize> = os.warnings.iter().map(|w| w.line).collect();
    assert_eq!(lines, vec![2, 3, 4, 5, 6, 7]);
    assert!(os.warnings[2].message.contains("never closed"));
    assert_eq!(os.get("ID"), Some("debian"));
    assert_eq!(os.get("VERSION_ID"), Some("10"));
    assert_eq!(os.get("OPEN"), None);
    assert_eq!(os.get("UNQUOTED"), None);
}

#[test]
fn a_later_assignment_wins() {
    let os = parse("ID=a\nID=b\n");
    assert_eq!(os.get("ID"), Some("b"));
}

#[test]
fn facts_treat_empty_values_as_absent_and_split_id_like() {
    let os = parse(
        "ID=fedora\nVERSION_ID=40\nVERSION_CODENAME=\"\"\nID_LIKE=\"  rhel   centos fedora \"\n",
    );
    let facts = Facts::from_os_release(&os, "x86_64").unwrap();
    assert_eq!(facts.version_codename, None);
    assert_eq!(facts.version_id.as_deref(), Some("40"));
    assert_eq!(facts.id_like, vec!["rhel", "centos", "fedora"]);
    assert!(Facts::from_os_release(&parse("ID=\"\"\n"), "x86_64").is_none());
    assert!(Facts::from_os_release(&parse("NAME=x\n"), "x86_64").is_none());
}

#[test]
fn read_falls_back_to_usr_lib_and_names_both_paths_when_absent() {
    let dir = tempfile::tempdir().unwrap();
    let err = read(&Target::open(dir.path()).unwrap()).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("etc/os-release"), "{message}");
    assert!(message.contains("usr/lib/os-release"), "{message}");
    assert!(err.hint().unwrap().contains("--distro"));

    std::fs::create_dir_all(dir.path().join("usr/lib")).unwrap();
    std::fs::write(dir.path().join("usr/lib/os-release"), "ID=debian\n").unwrap();
    let (path, facts) = read(&Target::open(dir.path()).unwrap()).unwrap();
    assert_eq!(path, dir.path().join("usr/lib/os-release"));
    assert_eq!(facts.id, "debian");

    // /etc wins over /usr/lib.
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::write(dir.path().join("etc/os-release"), "ID=ubuntu\n").unwrap();
    let (path, facts) = read(&Target::open(dir.path()).unwrap()).unwrap();
    assert_eq!(path, dir.path().join("etc/os-release"));
    assert_eq!(facts.id, "ubuntu");
}

#[test]
fn a_file_without_id_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::write(dir.path().join("etc/os-release"), "NAME=\"Nothing\"\n").unwrap();
    let err = read(&Target::open(dir.path()).unwrap()).unwrap_err();
    assert!(matches!(err, DetectError::NoId { .. }));
    assert!(err.to_string().contains("etc/os-release"));
}

/// Encodes `value` the way os-release(5) asks: in double quotes, with `"`, `\`, `$` and
/// `` ` `` escaped.
fn quote(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

proptest! {
    #[test]
    fn any_text_parses_without_panicking(text in any::<String>()) {
        let os = parse(&text);
        // Every warning points at a real line.
        let lines = text.split('\n').count();
        prop_assert!(os.warnings.iter().all(|w| w.line >= 1 && w.line <= lines));
    }

    #[test]
    fn any_bytes_parse_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_bytes(&bytes);
    }

    #[test]
    fn line_noise_made_of_shell_characters_never_panics(
        text in "[A-Z_=\"'\\\\$` #\n\ta-z0-9]{0,200}"
    ) {
        let _ = parse(&text);
    }

    #[test]
    fn a_quoted_value_round_trips(
        key in "[A-Za-z_][A-Za-z0-9_]{0,20}",
        value in "[^\n]{0,60}",
        before in "[A-Z]{1,5}",
    ) {
        prop_assume!(key != before);
        let text = format!("# comment\n{before}=x\n\n{key}={}\n", quote(&value));
        let os = parse(&text);
        prop_assert!(os.warnings.is_empty(), "{:?}", os.warnings);
        prop_assert_eq!(os.get(&key), Some(value.as_str()));
    }
}

#[test]
fn the_architecture_of_an_elf_file_is_read_from_its_header() {
    // This very test binary: the machine it runs on.
    let mut header = [0u8; 20];
    let mut me = std::fs::File::open("/proc/self/exe").unwrap();
    std::io::Read::read_exact(&mut me, &mut header).unwrap();
    assert_eq!(super::elf_arch(&header), Some(super::host_arch().as_str()));

    // 64-bit little-endian, e_machine 183 (EM_AARCH64); 32-bit ARM (40); big-endian ppc64 (21).
    let mut aarch64 = *b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0\xb7\0";
    assert_eq!(super::elf_arch(&aarch64), Some("aarch64"));
    aarch64[4] = 1;
    assert_eq!(super::elf_arch(&aarch64), None, "EM_AARCH64 is 64-bit only");
    let arm = *b"\x7fELF\x01\x01\x01\0\0\0\0\0\0\0\0\0\x03\0\x28\0";
    assert_eq!(super::elf_arch(&arm), Some("armv7l"));
    let ppc64 = *b"\x7fELF\x02\x02\x01\0\0\0\0\0\0\0\0\0\0\x03\0\x15";
    assert_eq!(super::elf_arch(&ppc64), Some("ppc64"));
    assert_eq!(super::elf_arch(b"#!/bin/sh\nexit 0\n\0\0\0"), None);
    assert_eq!(super::elf_arch(b"\x7fELF"), None, "too short");
}
