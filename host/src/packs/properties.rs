use super::*;
use proptest::prelude::*;

proptest! {
    #[test]
    fn any_text_as_a_pack_is_refused_naming_the_file_or_accepted(text in any::<String>()) {
        if let Err(e) = parse_pack(&text, "/packs/x.toml", "x.toml") {
            prop_assert!(e.to_string().contains("/packs/x.toml"), "{e}");
        }
    }

    #[test]
    fn toml_shaped_noise_never_panics(
        text in "(\\[[a-z.]{1,12}\\]\n|[a-z_]{1,10} = (\"[^\"\n]{0,10}\"|[0-9]{1,4}|\\[\\]|true)\n){0,12}"
    ) {
        let _ = parse_pack(&text, "/packs/noise.toml", "noise.toml");
    }
}
