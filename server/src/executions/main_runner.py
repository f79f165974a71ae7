# The entry of a run of a script that takes its inputs through `main()` (executions::inputs):
# imports the script, beside this file, as a module (so its `if __name__ == "__main__":` block
# does not run), calls `main(**inputs)` with the run's inputs, and keeps what it returns.
def _pytask_run():
    import datetime, importlib.util, json, os, pathlib, sys

    given = json.loads(os.environ.pop("PYTASK_INPUTS", "{}") or "{}")
    kinds = given.get("kinds", {})
    convert = {
        "date": datetime.date.fromisoformat,
        "date_time": datetime.datetime.fromisoformat,
        "path": pathlib.Path,
    }

    def value_of(name, value):
        make = convert.get(kinds.get(name))
        if make is None or value is None:
            return value
        return [make(v) for v in value] if isinstance(value, list) else make(value)

    kwargs = {name: value_of(name, value) for name, value in given.get("kwargs", {}).items()}
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "pytask_script.py")
    result_path = os.path.join(here, ".pytask_result.json")
    sys.argv = [path]
    spec = importlib.util.spec_from_file_location("pytask_script", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["pytask_script"] = module
    spec.loader.exec_module(module)
    result = module.main(**kwargs)
    if result is None:
        return
    try:
        text = json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as err:
        print(f"main() returned a value that JSON cannot hold ({err}); it is not kept", file=sys.stderr)
        return
    with open(result_path, "w", encoding="utf-8") as out:
        out.write(text)


_pytask_run()
