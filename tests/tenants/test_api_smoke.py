def test_me_answers_through_the_path_prefix(api):
    response = api.get("/me")
    assert response.status_code == 200, response.content
    body = response.json()["data"]
    assert body["email"] == "owner@acme.test"
    assert body["current_workspace"]["name"] == "Main"
