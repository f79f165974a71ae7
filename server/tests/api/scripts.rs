//! Scripts and tags through the API: CRUD, combined filters, unique names, stale updates,
//! cascades, and every validation error.

use app::model::{Script, ScriptSummary, TagCount};
use reqwest::Method;
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};
use serde_json::json;
use server::db::entities::{execution, script_tag, tag};

use crate::helpers::{error_of, spawn_app, spawn_app_with, Actor, Api, Backend, TestApp};
use crate::on_both_backends;

async fn create(app: &TestApp, actor: &Actor, body: serde_json::Value) -> reqwest::Response {
    app.send_json(Method::POST, actor, "/api/scripts", &body).await
}

async fn list(app: &TestApp, actor: &Actor, query: &str) -> Vec<String> {
    let scripts: Vec<ScriptSummary> = app.get_as(actor, &format!("/api/scripts{query}")).await.json().await.unwrap();
    scripts.into_iter().map(|s| s.name).collect()
}

async fn crud_round_trip(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let script = app.new_script(&admin, json!({"name": "  Nightly report ", "description": "Sends the report", "content": "print('hi')\n", "tags": ["Reports", "daily", "reports"], "timeout_seconds": 60}),
    )
    .await;
    assert_eq!(script.name, "Nightly report");
    assert_eq!(script.tags, ["daily", "reports"]);
    assert!(script.is_active);
    assert_eq!(script.timeout_seconds, Some(60));

    let read = app.script_of(&admin, script.id).await;
    assert_eq!(read, script);

    let response = app
        .request(Method::PUT, &format!("/api/scripts/{}", script.id), Some(&admin))
        .json(&json!({"updated_at": script.updated_at, "content": "print('bye')\n", "tags": ["daily"], "timeout_seconds": null, "is_active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let updated: Script = response.json().await.unwrap();
    assert_eq!((updated.content.as_str(), updated.is_active, updated.timeout_seconds), ("print('bye')\n", false, None));
    assert_eq!(updated.tags, ["daily"]);
    assert!(updated.updated_at > script.updated_at);

    let tags: Vec<TagCount> = app.get_as(&admin, "/api/tags").await.json().await.unwrap();
    assert_eq!(tags, [TagCount { name: "daily".into(), count: 1 }], "unused tags are forgotten");

    let gone = app.request(Method::DELETE, &format!("/api/scripts/{}", script.id), Some(&admin)).send().await.unwrap();
    assert_eq!(gone.status(), 204);
    assert_eq!(app.get_as(&admin, &format!("/api/scripts/{}", script.id)).await.status(), 404);
    let again = app.request(Method::DELETE, &format!("/api/scripts/{}", script.id), Some(&admin)).send().await.unwrap();
    assert_eq!(again.status(), 404);
}

async fn filters_combine(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    app.new_script(&admin, json!({"name": "Backup DB", "tags": ["ops", "nightly"]})).await;
    app.new_script(&admin, json!({"name": "backup files", "tags": ["ops"], "is_active": false})).await;
    app.new_script(&admin, json!({"name": "Send report", "tags": ["nightly"]})).await;
    app.new_script(&admin, json!({"name": "100%_done", "tags": []})).await;

    assert_eq!(list(&app, &admin, "").await, ["100%_done", "Backup DB", "Send report", "backup files"]);
    assert_eq!(list(&app, &admin, "?q=BACKUP").await, ["Backup DB", "backup files"]);
    assert_eq!(list(&app, &admin, "?tag=ops").await, ["Backup DB", "backup files"]);
    assert_eq!(list(&app, &admin, "?tag=ops&tag=nightly").await, ["Backup DB"]);
    assert_eq!(list(&app, &admin, "?q=backup&active=false").await, ["backup files"]);
    assert_eq!(list(&app, &admin, "?q=%25_").await, ["100%_done"], "% and _ are literal");
    assert!(list(&app, &admin, "?tag=nope").await.is_empty());
    let response = app.get_as(&admin, "/api/scripts?active=maybe").await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_of(response).await.field.as_deref(), Some("active"));

    let counts: Vec<TagCount> = app.get_as(&admin, "/api/tags").await.json().await.unwrap();
    assert_eq!(counts, [TagCount { name: "nightly".into(), count: 2 }, TagCount { name: "ops".into(), count: 2 }]);
}

async fn names_are_unique_and_edits_never_overwrite(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let first = app.new_script(&admin, json!({"name": "Alpha"})).await;
    let second = app.new_script(&admin, json!({"name": "Beta"})).await;
    let taken = create(&app, &admin, json!({"name": " Alpha "})).await;
    assert_eq!(taken.status(), 409);
    let error = error_of(taken).await;
    assert_eq!(error.field.as_deref(), Some("name"));
    assert!(error.message.contains("Alpha"));

    let rename = app
        .request(Method::PUT, &format!("/api/scripts/{}", second.id), Some(&admin))
        .json(&json!({"updated_at": second.updated_at, "name": "Alpha"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rename.status(), 409);

    // Two people opened Alpha; the first saves, the second's save is refused, not applied.
    let save = |content: &'static str| {
        app.request(Method::PUT, &format!("/api/scripts/{}", first.id), Some(&admin))
            .json(&json!({"updated_at": first.updated_at, "content": content}))
            .send()
    };
    assert_eq!(save("print(1)").await.unwrap().status(), 200);
    let stale = save("print(2)").await.unwrap();
    assert_eq!(stale.status(), 409);
    let error = error_of(stale).await;
    assert_eq!(error.field.as_deref(), Some("updated_at"));
    assert!(error.message.contains("reload"));
    let now = app.script_of(&admin, first.id).await;
    assert_eq!(now.content, "print(1)");
}

async fn every_invalid_field_is_named(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let cases = [
        (json!({"name": ""}), "name"),
        (json!({"name": "   "}), "name"),
        (json!({"name": "n".repeat(101)}), "name"),
        (json!({"name": "ok", "tags": ["Not A Tag"]}), "tags"),
        (json!({"name": "ok", "tags": ["-x"]}), "tags"),
        (json!({"name": "ok", "content": "x".repeat(600 * 1024)}), "content"),
        (json!({"name": "ok", "timeout_seconds": 0}), "timeout_seconds"),
        (json!({"name": 5}), "name"),
        (json!({"name": "ok", "tags": "daily"}), "tags"),
        (json!({"name": "ok", "is_active": "yes"}), "is_active"),
        (json!({"name": "ok", "timeout_seconds": -1}), "timeout_seconds"),
        (json!({"name": "ok", "colour": "red"}), "colour"),
    ];
    for (body, field) in cases {
        let response = app.request(Method::POST, "/api/scripts", Some(&admin)).json(&body).send().await.unwrap();
        let status = response.status();
        let error = error_of(response).await;
        if field == "content" {
            // Beyond the body limit of the test server the request itself is refused.
            assert_eq!(status, 413, "{error:?}");
            continue;
        }
        assert_eq!(status, 422, "{body}: {error:?}");
        assert!(error.field.as_deref().is_some_and(|f| f.contains(field)) || error.message.contains(field), "{body}: {error:?}");
    }
    assert!(list(&app, &admin, "").await.is_empty(), "nothing was stored");
    let response = app.request(Method::PUT, "/api/scripts/1", Some(&admin)).json(&json!({"name": "x"})).send().await.unwrap();
    assert_eq!(response.status(), 422, "a change without its version is refused");
}

async fn delete_cascades(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let script = app.new_script(&admin, json!({"name": "Doomed", "tags": ["solo"]})).await;
    let keep = app.new_script(&admin, json!({"name": "Kept", "tags": ["kept"]})).await;
    for (id, at) in [(script.id, "2026-01-01 00:00:00+00:00"), (keep.id, "2026-01-02 00:00:00+00:00")] {
        app.insert_run(id, "succeeded", at).await;
    }
    let dir = app.data_dir.path().join("scripts").join(script.id.to_string());
    std::fs::create_dir_all(dir.join("venv")).unwrap();
    let listed: Vec<ScriptSummary> = app.get_as(&admin, "/api/scripts").await.json().await.unwrap();
    assert!(listed.iter().all(|s| s.last_execution.is_some()));

    let response = app.request(Method::DELETE, &format!("/api/scripts/{}", script.id), Some(&admin)).send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert!(!dir.exists(), "the script's directory is removed");
    assert_eq!(execution::Entity::find().count(&app.db).await.unwrap(), 1, "its runs went with it");
    assert_eq!(script_tag::Entity::find().count(&app.db).await.unwrap(), 1);
    assert_eq!(tag::Entity::find().count(&app.db).await.unwrap(), 1, "its lone tag is gone");
}

async fn viewers_read_but_do_not_write(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let script = app.new_script(&admin, json!({"name": "Shared"})).await;
    let viewer = app.add_user(&admin, "vic", app::model::Role::Viewer).await;
    assert_eq!(list(&app, &viewer, "").await, ["Shared"]);
    assert_eq!(app.get_as(&viewer, &format!("/api/scripts/{}", script.id)).await.status(), 200);
    assert_eq!(create(&app, &viewer, json!({"name": "Mine"})).await.status(), 403);
    let delete = app.request(Method::DELETE, &format!("/api/scripts/{}", script.id), Some(&viewer)).send().await.unwrap();
    assert_eq!(delete.status(), 403);
}

/// `network` (SPEC "Isolation"): on unless asked otherwise, changed by itself, left alone by a
/// change that does not name it.
async fn network_is_on_by_default_and_kept_until_changed(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let online = app.new_script(&admin, json!({"name": "Online"})).await;
    assert!(online.network, "on by default");
    let offline = app.new_script(&admin, json!({"name": "Offline", "network": false})).await;
    assert!(!offline.network);
    let read = app.script_of(&admin, offline.id).await;
    assert!(!read.network, "stored off");

    let on = app.update_script(&admin, offline.id, json!({"updated_at": offline.updated_at, "network": true})).await;
    assert!(on.network);
    assert_eq!((on.name.as_str(), on.content.as_str(), on.is_active), ("Offline", offline.content.as_str(), true), "only network changed");
    let renamed = app.update_script(&admin, on.id, json!({"updated_at": on.updated_at, "name": "Was offline"})).await;
    assert!(renamed.network, "a change without `network` leaves it");
    let off = app.update_script(&admin, on.id, json!({"updated_at": renamed.updated_at, "network": false})).await;
    assert!(!off.network);
    let read = app.script_of(&admin, off.id).await;
    assert_eq!(read, off);
    let other = app.script_of(&admin, online.id).await;
    assert!(other.network, "another script keeps its own setting");
}

/// A `network` that is not a boolean is refused like any field of the wrong type: 422 naming it.
async fn network_of_the_wrong_type_is_named(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    for bad in [json!("no"), json!(0), json!(1), json!([true]), json!({"on": true})] {
        let response = create(&app, &admin, json!({"name": "Bad network", "network": bad})).await;
        assert_eq!(response.status(), 422, "{bad}");
        let error = error_of(response).await;
        assert_eq!((error.code.as_str(), error.field.as_deref()), ("invalid", Some("network")), "{bad}: {error:?}");
    }
    assert!(list(&app, &admin, "").await.is_empty(), "nothing was stored");
    let script = app.new_script(&admin, json!({"name": "Good network", "network": false})).await;
    let change = json!({"updated_at": script.updated_at, "network": "on"});
    let response = app.send_json(Method::PUT, &admin, &format!("/api/scripts/{}", script.id), &change).await;
    assert_eq!(response.status(), 422);
    let error = error_of(response).await;
    assert_eq!((error.code.as_str(), error.field.as_deref()), ("invalid", Some("network")), "{error:?}");
    let read = app.script_of(&admin, script.id).await;
    assert_eq!(read, script, "a refused change changes nothing");
}

on_both_backends!(
    network_is_on_by_default_and_kept_until_changed,
    network_of_the_wrong_type_is_named,
    crud_round_trip,
    filters_combine,
    names_are_unique_and_edits_never_overwrite,
    every_invalid_field_is_named,
    delete_cascades,
    viewers_read_but_do_not_write,
    concurrent_writers_all_succeed,
    pages_walk_the_list_by_name,
    whole_list_follows_every_change,
);

/// Many writers at once: every create succeeds (SQLite must wait for its write lock, not fail).
async fn concurrent_writers_all_succeed(backend: Backend) {
    let app = std::sync::Arc::new(spawn_app(backend).await);
    let admin = app.setup_admin().await;
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let (app, admin) = (app.clone(), admin.clone());
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for n in 0..10 {
                let body = json!({"name": format!("w{worker}-{n}"), "tags": ["shared", format!("t{n}")]});
                statuses.push(create(&app, &admin, body).await.status().as_u16());
            }
            statuses
        }));
    }
    for task in tasks {
        assert!(task.await.unwrap().iter().all(|s| *s == 201));
    }
    assert_eq!(list(&app, &admin, "?tag=shared").await.len(), 80);
}

/// `limit`/`offset` walk the list by name; a bad value is refused, naming the parameter.
async fn pages_walk_the_list_by_name(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    for n in (0..7).rev() {
        app.new_script(&admin, json!({"name": format!("s{n}"), "tags": ["all"]})).await;
    }
    assert_eq!(list(&app, &admin, "?limit=3").await, ["s0", "s1", "s2"]);
    assert_eq!(list(&app, &admin, "?limit=3&offset=3&tag=all").await, ["s3", "s4", "s5"]);
    assert_eq!(list(&app, &admin, "?limit=3&offset=6").await, ["s6"]);
    assert!(list(&app, &admin, "?offset=7").await.is_empty());
    for (query, field) in [("?limit=0", "limit"), ("?limit=x", "limit"), ("?limit=10001", "limit"), ("?offset=-2", "offset")] {
        let response = app.get_as(&admin, &format!("/api/scripts{query}")).await;
        assert_eq!(response.status(), 422, "{query}");
        assert_eq!(error_of(response).await.field.as_deref(), Some(field));
    }
}

async fn whole(app: &TestApp, admin: &Actor) -> Vec<ScriptSummary> {
    app.get_as(admin, "/api/scripts").await.json().await.unwrap()
}

/// The unfiltered list is served from a cache; every change a row shows must still appear.
async fn whole_list_follows_every_change(backend: Backend) {
    // A web instance: no worker takes the hand-made queued run.
    let app = spawn_app_with(backend, &["--role", "web"]).await;
    let admin = app.setup_admin().await;
    let a = app.new_script(&admin, json!({"name": "A"})).await;
    assert_eq!(whole(&app, &admin).await.len(), 1);
    assert_eq!(whole(&app, &admin).await.len(), 1, "served again from the cache");
    let b = app.new_script(&admin, json!({"name": "B"})).await;
    assert_eq!(whole(&app, &admin).await.len(), 2);
    app.update_script(&admin, a.id, json!({"updated_at": a.updated_at, "tags": ["fresh"], "is_active": false})).await;
    let listed = whole(&app, &admin).await;
    assert_eq!((listed[0].tags.clone(), listed[0].is_active), (vec!["fresh".to_string()], false));

    app.insert_run(b.id, "queued", "2026-01-01 00:00:00+00:00").await;
    let run = |list: Vec<ScriptSummary>| list.into_iter().find(|s| s.id == b.id).unwrap().last_execution.map(|r| r.status);
    assert_eq!(run(whole(&app, &admin).await), Some(app::model::ExecutionStatus::Queued));
    app.db.execute_unprepared("UPDATE executions SET status = 'running', started_at = '2026-01-01 00:00:01+00:00'").await.unwrap();
    assert_eq!(run(whole(&app, &admin).await), Some(app::model::ExecutionStatus::Running));
    app.db.execute_unprepared("UPDATE executions SET status = 'succeeded', finished_at = '2026-01-01 00:00:02+00:00'").await.unwrap();
    assert_eq!(run(whole(&app, &admin).await), Some(app::model::ExecutionStatus::Succeeded));
    // A rename moves the row, as the database would order it.
    let current = app.script_of(&admin, a.id).await;
    app.update_script(&admin, a.id, json!({"updated_at": current.updated_at, "name": "Z last"})).await;
    let names: Vec<String> = whole(&app, &admin).await.into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["B", "Z last"]);
    assert_eq!(list(&app, &admin, "?limit=10").await, names, "the paged query orders alike");
    assert_eq!(app.request(Method::DELETE, &format!("/api/scripts/{}", b.id), Some(&admin)).send().await.unwrap().status(), 204);
    assert_eq!(whole(&app, &admin).await.len(), 1);
}
