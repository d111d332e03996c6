use super::*;

#[test]
fn several_placeholders_in_one_word_each_become_their_variable() {
    let vars = [("<a@1>", "v0".to_owned()), ("<b@2>", "v1".to_owned())];
    assert_eq!(
        splice_quote("x=<a@1>,y=<b@2>", &vars),
        r#"'x='"$v0"',y='"$v1"''"#
    );
    assert_eq!(splice_quote("plain", &vars), "'plain'");
}

#[test]
fn quoting_survives_every_metacharacter() {
    assert_eq!(sh_quote("a'b"), r"'a'\''b'");
    assert_eq!(sh_quote("$(reboot)"), "'$(reboot)'");
}
