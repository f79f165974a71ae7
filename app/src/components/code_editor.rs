//! `CodeEditor`: Monaco, served by the app itself from `/monaco/vs`, driven from Rust.
//!
//! The server renders a plain text area with the source, so the page is readable and usable
//! before (and without) the editor. In the browser the first `CodeEditor` loads Monaco's AMD
//! loader once per page, then each one creates an editor in place of its text area: Python
//! highlighting, completion of keywords and builtins, the app's light or dark theme, a height
//! that follows the content, and the problems it is given marked in the text.

use leptos::prelude::*;

use crate::model::Problem;

#[component]
pub fn CodeEditor(
    /// The source. A change from outside (a reload, "Format") replaces the editor's text.
    #[prop(into)]
    value: Signal<String>,
    /// Called with the whole source after each edit.
    on_change: Callback<String>,
    /// Problems to underline (syntax errors and warnings).
    #[prop(into, optional)]
    problems: Signal<Vec<Problem>>,
    #[prop(optional)] read_only: bool,
    /// The accessible name of the editor.
    #[prop(into)]
    label: String,
) -> impl IntoView {
    let host = NodeRef::<leptos::html::Div>::new();
    let ready = RwSignal::new(false);
    let failure = RwSignal::new(None::<String>);
    #[cfg(feature = "hydrate")]
    browser::mount(browser::Props { host, value, on_change, problems, read_only, label: label.clone(), ready, failure });
    #[cfg(not(feature = "hydrate"))]
    let _ = problems;
    view! {
        <div class="code-editor" class:ready=move || ready.get()>
            <textarea class="code code-fallback" spellcheck="false" rows="22" aria-label=label.clone()
                hidden=move || ready.get() readonly=read_only
                prop:value=move || value.get()
                on:input=move |ev| on_change.run(event_target_value(&ev))></textarea>
            <div class="monaco-host" node_ref=host></div>
            {move || failure.get().map(|message| view! {
                <p class="field-error">{format!("The code editor could not load ({message}); you can still edit the code as plain text.")}</p>
            })}
        </div>
    }
}

/// Python's keywords and builtins, offered by completion.
#[cfg(feature = "hydrate")]
const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif", "else", "except",
    "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "match", "case", "nonlocal", "not", "or", "pass", "raise",
    "return", "try", "while", "with", "yield",
];
#[cfg(feature = "hydrate")]
const BUILTINS: &[&str] = &[
    "abs", "aiter", "all", "anext", "any", "ascii", "bin", "bool", "breakpoint", "bytearray", "bytes", "callable", "chr", "classmethod",
    "compile", "complex", "delattr", "dict", "dir", "divmod", "enumerate", "eval", "exec", "filter", "float", "format", "frozenset",
    "getattr", "globals", "hasattr", "hash", "help", "hex", "id", "input", "int", "isinstance", "issubclass", "iter", "len", "list",
    "locals", "map", "max", "memoryview", "min", "next", "object", "oct", "open", "ord", "pow", "print", "property", "range", "repr",
    "reversed", "round", "set", "setattr", "slice", "sorted", "staticmethod", "str", "sum", "super", "tuple", "type", "vars", "zip",
    "__import__", "__name__", "__file__", "Exception", "ValueError", "TypeError", "KeyError", "IndexError", "RuntimeError", "OSError",
    "FileNotFoundError", "KeyboardInterrupt", "StopIteration", "NotImplementedError",
];
/// (label, snippet, description)
#[cfg(feature = "hydrate")]
const SNIPPETS: &[(&str, &str, &str)] = &[
    ("def", "def ${1:name}(${2:args}):\n\t${0:pass}", "Function definition"),
    ("main", "def main():\n\t${0:pass}\n\n\nif __name__ == \"__main__\":\n\tmain()", "main() and its guard"),
    ("ifmain", "if __name__ == \"__main__\":\n\t${0:main()}", "if __name__ == \"__main__\""),
    ("for", "for ${1:item} in ${2:items}:\n\t${0:pass}", "for loop"),
    ("with open", "with open(${1:path}) as ${2:f}:\n\t${0:pass}", "Open a file"),
    ("try", "try:\n\t${1:pass}\nexcept ${2:Exception} as ${3:err}:\n\t${0:raise}", "try/except"),
    ("class", "class ${1:Name}:\n\tdef __init__(self${2}):\n\t\t${0:pass}", "Class definition"),
];

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::RefCell;
    use std::rc::Rc;

    use js_sys::{Array, Function, Object, Promise, Reflect, JSON};
    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use send_wrapper::SendWrapper;
    use serde_json::json;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;

    use super::{BUILTINS, KEYWORDS, SNIPPETS};
    use crate::model::{Problem, Severity};
    use crate::theme::{effective_theme, Theme};

    const BASE: &str = "/monaco/vs";
    const MIN_HEIGHT: f64 = 260.0;

    #[wasm_bindgen]
    extern "C" {
        #[derive(Clone)]
        type Editor;
        type TextModel;

        #[wasm_bindgen(js_namespace = ["monaco", "editor"], js_name = create)]
        fn create_editor(host: &web_sys::HtmlElement, options: &JsValue) -> Editor;
        #[wasm_bindgen(js_namespace = ["monaco", "editor"], js_name = setTheme)]
        fn set_theme(name: &str);
        #[wasm_bindgen(js_namespace = ["monaco", "editor"], js_name = setModelMarkers)]
        fn set_model_markers(model: &TextModel, owner: &str, markers: &JsValue);
        #[wasm_bindgen(js_namespace = ["monaco", "editor"], js_name = defineTheme)]
        fn define_theme(name: &str, theme: &JsValue);
        #[wasm_bindgen(js_namespace = ["monaco", "languages"], js_name = registerCompletionItemProvider)]
        fn register_completion_item_provider(language: &str, provider: &JsValue) -> JsValue;

        #[wasm_bindgen(method, js_name = getValue)]
        fn get_value(this: &Editor) -> String;
        #[wasm_bindgen(method, js_name = setValue)]
        fn set_value(this: &Editor, value: &str);
        #[wasm_bindgen(method, js_name = getModel)]
        fn get_model(this: &Editor) -> TextModel;
        #[wasm_bindgen(method, js_name = executeEdits)]
        fn execute_edits(this: &Editor, source: &str, edits: &JsValue) -> bool;
        #[wasm_bindgen(method, js_name = pushUndoStop)]
        fn push_undo_stop(this: &Editor) -> bool;
        #[wasm_bindgen(method, js_name = onDidChangeModelContent)]
        fn on_did_change_model_content(this: &Editor, listener: &Function) -> JsValue;
        #[wasm_bindgen(method, js_name = onDidContentSizeChange)]
        fn on_did_content_size_change(this: &Editor, listener: &Function) -> JsValue;
        #[wasm_bindgen(method, js_name = getContentHeight)]
        fn get_content_height(this: &Editor) -> f64;
        #[wasm_bindgen(method)]
        fn layout(this: &Editor);
        #[wasm_bindgen(method)]
        fn dispose(this: &Editor);

        #[wasm_bindgen(method, js_name = getFullModelRange)]
        fn get_full_model_range(this: &TextModel) -> JsValue;
        #[wasm_bindgen(method, js_name = getWordUntilPosition)]
        fn get_word_until_position(this: &TextModel, position: &JsValue) -> JsValue;
    }

    pub struct Props {
        pub host: NodeRef<leptos::html::Div>,
        pub value: Signal<String>,
        pub on_change: Callback<String>,
        pub problems: Signal<Vec<Problem>>,
        pub read_only: bool,
        /// The accessible name screen readers announce for the editor.
        pub label: String,
        pub ready: RwSignal<bool>,
        pub failure: RwSignal<Option<String>>,
    }

    /// A created editor and the callbacks it holds; dropped after the editor is disposed.
    struct Mounted {
        editor: Editor,
        /// Set while the component itself writes into the editor, so that write is not
        /// reported back as a user's edit.
        applying: Rc<RefCell<bool>>,
        _callbacks: Vec<Closure<dyn Fn(JsValue)>>,
        _observer: Option<web_sys::MutationObserver>,
    }

    pub fn mount(props: Props) {
        let Props { host, value, on_change, problems, read_only, label, ready, failure } = props;
        let mounted: Rc<RefCell<Option<Mounted>>> = Rc::default();

        let slot = mounted.clone();
        Effect::new(move |done: Option<bool>| {
            if done == Some(true) {
                return true;
            }
            let Some(element) = host.get() else { return false };
            let (slot, label) = (slot.clone(), label.clone());
            spawn_local(async move {
                let loaded = wasm_bindgen_futures::JsFuture::from(load()).await;
                // Monaco loads for a while: the component may be gone by then (its page left or
                // rendered anew), and with it everything here but `slot`.
                let Some(text) = value.try_get_untracked() else { return };
                if let Err(err) = loaded {
                    failure.try_set(Some(describe(&err)));
                    return;
                }
                let element: web_sys::HtmlElement = element.unchecked_into();
                *slot.borrow_mut() = Some(create(&element, text, on_change, read_only, &label));
                ready.try_set(true);
            });
            true
        });

        // Text from outside: a whole-document edit, so Ctrl+Z brings the previous text back.
        let slot = mounted.clone();
        Effect::new(move |_| {
            let text = value.get();
            ready.track();
            let slot = slot.borrow();
            let Some(mounted) = slot.as_ref() else { return };
            if mounted.editor.get_value() == text {
                return;
            }
            *mounted.applying.borrow_mut() = true;
            let edit = json_value(&json!({ "text": text }));
            let _ = Reflect::set(&edit, &"range".into(), &mounted.editor.get_model().get_full_model_range());
            if read_only || !mounted.editor.execute_edits("pytask", &Array::of1(&edit)) {
                mounted.editor.set_value(&text);
            }
            mounted.editor.push_undo_stop();
            *mounted.applying.borrow_mut() = false;
        });

        let slot = mounted.clone();
        Effect::new(move |_| {
            let markers: Vec<_> = problems.get().iter().map(marker).collect();
            ready.track();
            if let Some(mounted) = slot.borrow().as_ref() {
                set_model_markers(&mounted.editor.get_model(), "python", &json_value(&json!(markers)));
            }
        });

        let slot = SendWrapper::new(mounted);
        on_cleanup(move || {
            if let Some(mounted) = slot.take().borrow_mut().take() {
                if let Some(observer) = &mounted._observer {
                    observer.disconnect();
                }
                mounted.editor.dispose();
            }
        });
    }

    fn create(host: &web_sys::HtmlElement, text: String, on_change: Callback<String>, read_only: bool, label: &str) -> Mounted {
        let options = json!({
            "value": text,
            "ariaLabel": label,
            "language": "python",
            "theme": monaco_theme(effective_theme()),
            "readOnly": read_only,
            "automaticLayout": true,
            "minimap": { "enabled": false },
            "scrollBeyondLastLine": false,
            "fontSize": 14,
            "lineHeight": 21,
            "tabSize": 4,
            "insertSpaces": true,
            "padding": { "top": 10, "bottom": 10 },
            "renderLineHighlight": "line",
            "fixedOverflowWidgets": true,
            "scrollbar": { "alwaysConsumeMouseWheel": false },
            "fontFamily": "ui-monospace, 'JetBrains Mono', 'SFMono-Regular', Menlo, Consolas, monospace",
        });
        let editor = create_editor(host, &json_value(&options));
        let applying = Rc::new(RefCell::new(false));
        let mut callbacks = Vec::new();

        let changed = {
            let applying = applying.clone();
            let editor = editor.clone();
            Closure::<dyn Fn(JsValue)>::new(move |_| {
                if !*applying.borrow() {
                    on_change.run(editor.get_value());
                }
            })
        };
        editor.on_did_change_model_content(changed.as_ref().unchecked_ref());
        callbacks.push(changed);

        let resize = {
            let editor = editor.clone();
            let host = host.clone();
            Closure::<dyn Fn(JsValue)>::new(move |_| fit_height(&editor, &host))
        };
        editor.on_did_content_size_change(resize.as_ref().unchecked_ref());
        callbacks.push(resize);
        fit_height(&editor, host);

        // Follow the app's theme: the switch sets `data-theme` on <html>.
        let follow = Closure::<dyn Fn(JsValue)>::new(|_| set_theme(monaco_theme(effective_theme())));
        let observer = web_sys::MutationObserver::new(follow.as_ref().unchecked_ref()).ok();
        if let (Some(observer), Some(root)) = (&observer, document().document_element()) {
            let init = web_sys::MutationObserverInit::new();
            init.set_attributes(true);
            init.set_attribute_filter(&Array::of1(&"data-theme".into()));
            let _ = observer.observe_with_options(&root, &init);
        }
        callbacks.push(follow);

        Mounted { editor, applying, _callbacks: callbacks, _observer: observer }
    }

    /// As tall as the content, between a comfortable minimum and most of the window.
    fn fit_height(editor: &Editor, host: &web_sys::HtmlElement) {
        let window_height = window().inner_height().ok().and_then(|h| h.as_f64()).unwrap_or(900.0);
        let height = editor.get_content_height().clamp(MIN_HEIGHT, (window_height * 0.75).max(MIN_HEIGHT));
        let _ = host.style().set_property("height", &format!("{height}px"));
        editor.layout();
    }

    fn monaco_theme(theme: Theme) -> &'static str {
        match theme {
            Theme::Light => "pytask-light",
            Theme::Dark => "pytask-dark",
        }
    }

    fn marker(problem: &Problem) -> serde_json::Value {
        let end_line = problem.end_line.unwrap_or(problem.line);
        // Without an end, underline from the column to the end of its word.
        let end_column = problem.end_column.filter(|&end| end_line > problem.line || end > problem.column).unwrap_or(problem.column + 1);
        json!({
            "startLineNumber": problem.line,
            "startColumn": problem.column,
            "endLineNumber": end_line,
            "endColumn": end_column,
            "message": problem.message,
            "severity": match problem.severity { Severity::Error => 8, Severity::Warning => 4 },
            "source": "python",
        })
    }

    thread_local! {
        static LOADING: RefCell<Option<Promise>> = const { RefCell::new(None) };
    }

    /// Monaco, loaded once per page however many editors ask.
    fn load() -> Promise {
        LOADING.with(|loading| loading.borrow_mut().get_or_insert_with(|| Promise::new(&mut start_loading)).clone())
    }

    fn start_loading(resolve: Function, reject: Function) {
        let script: web_sys::HtmlScriptElement = match document().create_element("script") {
            Ok(element) => element.unchecked_into(),
            Err(err) => return drop(reject.call1(&JsValue::NULL, &err)),
        };
        script.set_src(&format!("{BASE}/loader.js"));
        let failed = reject.clone();
        let onload = Closure::once_into_js(move || {
            let window = window();
            let require: Function = match Reflect::get(&window, &"require".into()).and_then(|r| r.dyn_into()) {
                Ok(require) => require,
                Err(_) => return drop(failed.call1(&JsValue::NULL, &"the Monaco loader defined no `require`".into())),
            };
            if let Ok(config) = Reflect::get(&require, &"config".into()).and_then(|c| c.dyn_into::<Function>()) {
                let _ = config.call1(&require, &json_value(&json!({ "paths": { "vs": BASE } })));
            }
            let loaded = Closure::once_into_js(move |_: JsValue| {
                register_python_support();
                let _ = resolve.call0(&JsValue::NULL);
            });
            let missing = failed.clone();
            let error = Closure::once_into_js(move |err: JsValue| {
                let _ = missing.call1(&JsValue::NULL, &err);
            });
            let modules = Array::of1(&"vs/editor/editor.main".into());
            let _ = require.call3(&JsValue::NULL, &modules, &loaded, &error);
        });
        script.set_onload(Some(onload.unchecked_ref()));
        let onerror = Closure::once_into_js(move |_: JsValue| {
            let _ = reject.call1(&JsValue::NULL, &format!("{BASE}/loader.js did not load").into());
        });
        script.set_onerror(Some(onerror.unchecked_ref()));
        if let Some(head) = document().head() {
            let _ = head.append_child(&script);
        }
    }

    /// Once per page: the app's two themes and Python completion.
    fn register_python_support() {
        // The editor's background matches the app's cards; the rest is Monaco's own palettes.
        define_theme(
            "pytask-light",
            &json_value(&json!({
                "base": "vs", "inherit": true, "rules": [],
                "colors": { "editor.background": "#ffffff", "editorGutter.background": "#f8f9fc" },
            })),
        );
        define_theme(
            "pytask-dark",
            &json_value(&json!({
                "base": "vs-dark", "inherit": true, "rules": [],
                "colors": { "editor.background": "#161b24", "editorGutter.background": "#131822" },
            })),
        );
        let provide = Closure::<dyn Fn(JsValue, JsValue) -> JsValue>::new(|model: JsValue, position: JsValue| {
            let model: TextModel = model.unchecked_into();
            let word = model.get_word_until_position(&position);
            let number = |object: &JsValue, key: &str| Reflect::get(object, &key.into()).ok().and_then(|v| v.as_f64()).unwrap_or(1.0);
            let range = json!({
                "startLineNumber": number(&position, "lineNumber"),
                "endLineNumber": number(&position, "lineNumber"),
                "startColumn": number(&word, "startColumn"),
                "endColumn": number(&word, "endColumn"),
            });
            json_value(&json!({ "suggestions": suggestions(&range) }))
        });
        let provider = Object::new();
        let _ = Reflect::set(&provider, &"provideCompletionItems".into(), provide.as_ref());
        // Lives as long as the page: the provider is registered for good.
        provide.forget();
        register_completion_item_provider("python", &provider);
    }

    fn suggestions(range: &serde_json::Value) -> Vec<serde_json::Value> {
        // Monaco's CompletionItemKind: Function 1, Keyword 17, Snippet 28; insert rule 4: snippet.
        let words = KEYWORDS.iter().map(|word| (*word, 17, "keyword")).chain(BUILTINS.iter().map(|word| (*word, 1, "builtin")));
        let mut items: Vec<_> = words
            .map(|(word, kind, detail)| json!({ "label": word, "kind": kind, "insertText": word, "detail": detail, "range": range }))
            .collect();
        items.extend(SNIPPETS.iter().map(|(label, body, detail)| {
            json!({ "label": label, "kind": 28, "insertText": body, "insertTextRules": 4, "detail": detail, "range": range })
        }));
        items
    }

    fn json_value(value: &serde_json::Value) -> JsValue {
        JSON::parse(&value.to_string()).unwrap_or(JsValue::NULL)
    }

    fn describe(err: &JsValue) -> String {
        err.as_string()
            .or_else(|| Reflect::get(err, &"message".into()).ok().and_then(|m| m.as_string()))
            .unwrap_or_else(|| "unknown error".into())
    }
}
