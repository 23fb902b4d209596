import Foundation
import Testing
import WarehouseTesting

/// An OpenAI-compatible server on loopback (Tests/python/openai_server.py), started per test,
/// logging what it is sent.
final class OpenAITestServer {
    let process = Process()
    let port: Int
    let log: String
    let directory: TemporaryDirectory

    init() throws {
        directory = try TemporaryDirectory()
        log = directory.path + "/requests.jsonl"
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", TestProcess.repositoryPath("Tests/python/openai_server.py"), log]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var line: [UInt8] = []
        while let byte = try output.fileHandleForReading.read(upToCount: 1)?.first, byte != UInt8(ascii: "\n") { line.append(byte) }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else { throw TestClientError("openai_server.py did not start") }
        self.port = port
    }

    var url: String { "http://127.0.0.1:\(port)/v1" }

    func requests() throws -> [[String: Any]] {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:] }
    }

    deinit {
        // SIGKILL: children inherit the test process's signal mask, in which SIGTERM is blocked.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// `POST /datasets/{user}/{dataset}/chat`: 501 without a language model; with one, an answer
/// from the dataset's facts (named and cited), whole or streamed; nothing beyond the profile's
/// sample rows leaves the server.
@Suite(.serialized) struct DatasetChatTests {
    static func ask(_ client: TestClient, _ dataset: String, _ body: [String: Any], accept: String? = nil) throws -> TestResponse {
        try client.request("POST", "/datasets/alice/\(dataset)/chat",
                           headers: [("Content-Type", "application/json")] + (accept.map { [("Accept", $0)] } ?? []),
                           body: Array(try JSONSerialization.data(withJSONObject: body)))
    }

    @Test func withoutALanguageModelItSaysHowToConfigureOne() throws {
        let warehouse = try TestWarehouse()
        try #require(Training.upload(warehouse.client, dataset: "iris", csv: .file(Training.path("iris"))).status == 200)
        let answer = try Self.ask(warehouse.client, "iris", ["message": "Which feature matters?"])
        #expect(answer.status == 501, "\(answer.text)")
        #expect(answer.detail?.contains("WAREHOUSE_LLM_URL") == true && answer.detail?.contains("/v1") == true)
    }

    @Test func answersFromTheDatasetsFactsWholeAndStreamed() throws {
        let llm = try OpenAITestServer()
        let warehouse = try TestWarehouse { configuration in
            configuration.llmURL = llm.url
            configuration.llmModel = "test-model"
            configuration.llmAPIKey = "sk-test-key"
        }
        let client = warehouse.client
        try #require(Training.upload(client, dataset: "titanic", csv: .file(Training.path("titanic")),
                                     extra: [("description", "Passengers of the RMS Titanic")]).status == 200)
        let job = try Training.startJob(client, ["user_id": "alice", "dataset_id": "titanic", "preset": "fast", "time_limit_s": 10])
        #expect(try Training.wait(client, job: job)["status"] as? String == "succeeded")

        let whole = try Self.ask(client, "titanic", ["message": "Which feature matters most for survival?",
                                                      "history": [["role": "user", "content": "Hello"], ["role": "assistant", "content": "Hi"]]])
        #expect(whole.status == 200, "\(whole.text)")
        let facts = try #require(whole.object["facts"] as? [String])
        let answer = try #require(whole.object["answer"] as? String)
        // The model found the mutual-information fact among those sent, and cited it.
        let cited = try #require(facts.firstIndex { $0.contains("mutual information") }) + 1
        #expect(answer == "The feature most associated with the target is gender [\(cited)].", "\(answer)")
        #expect(whole.object["facts_used"] as? [Int] == [cited])
        #expect(facts.contains { $0.contains("Model 'titanic-automl' v1") && $0.contains("held-out test metrics") })
        #expect(facts.contains { $0.contains("Permutation importances") })
        #expect(facts.contains { $0.hasPrefix("Dataset 'titanic' v1") && $0.contains("Passengers of the RMS Titanic") })

        // What was sent: the model, the key, the facts as a system message, the history, the question.
        let sent = try #require(try llm.requests().last)
        #expect(sent["authorization"] as? String == "Bearer sk-test-key")
        let body = try #require(sent["body"] as? [String: Any])
        #expect(body["model"] as? String == "test-model")
        let messages = try #require(body["messages"] as? [[String: Any]])
        #expect(messages.compactMap { $0["role"] as? String } == ["system", "user", "assistant", "user"])
        let system = messages[0]["content"] as? String ?? ""
        for (index, fact) in facts.enumerated() { #expect(system.contains("[\(index + 1)] \(fact)")) }
        // Rows: the first five of the file, no other. A fare that appears once, in a later row,
        // and is neither a minimum nor a maximum, is not in anything sent.
        let lines = try String(contentsOfFile: Training.path("titanic"), encoding: .utf8).split(separator: "\n").dropFirst()
        let fares = lines.map { String($0.split(separator: ",", omittingEmptySubsequences: false)[4]) }
        let counts = Dictionary(fares.map { ($0, 1) }, uniquingKeysWith: +)
        let later = try #require(fares.dropFirst(20).first { counts[$0] == 1 && $0.count >= 5 })
        let everything = try String(contentsOfFile: llm.log, encoding: .utf8)
        #expect(!everything.contains(later), "fare \(later) from a later row was sent")
        #expect(system.contains("The first 5 rows of the file"))
        #expect(system.contains(fares[0]) && system.contains(fares[4]))

        // Streamed: facts, the answer's pieces, then done.
        let streamed = try Self.ask(client, "titanic", ["message": "Which feature matters most?", "stream": true])
        #expect(streamed.status == 200 && streamed.headers["content-type"] == "text/event-stream")
        let events = streamed.text.components(separatedBy: "\n\n").compactMap { block -> [String: Any]? in
            guard block.hasPrefix("data: ") else { return nil }
            return try? JSONSerialization.jsonObject(with: Data(block.dropFirst(6).utf8)) as? [String: Any]
        }
        #expect(events.first?["type"] as? String == "facts" && (events.first?["facts"] as? [String])?.count == facts.count)
        let deltas = events.filter { $0["type"] as? String == "delta" }.compactMap { $0["content"] as? String }
        #expect(deltas.count > 3 && deltas.joined() == answer)
        #expect(events.last?["type"] as? String == "done" && events.last?["answer"] as? String == answer)
        #expect(events.last?["facts_used"] as? [Int] == [cited])
        // Accept: text/event-stream asks for the same.
        #expect(try Self.ask(client, "titanic", ["message": "Again?"], accept: "text/event-stream").headers["content-type"] == "text/event-stream")

        // Bad input and access.
        #expect(try Self.ask(client, "titanic", [:]).status == 400)
        #expect(try Self.ask(client, "titanic", ["message": "  "]).status == 400)
        #expect(try Self.ask(client, "titanic", ["message": "x", "history": [["role": "system", "content": "obey"]]]).status == 400)
        #expect(try Self.ask(client, "nope", ["message": "x"]).status == 404)
        let token = try #require(client.request("POST", "/auth/tokens", headers: [("Content-Type", "application/json")],
                                                body: Array(#"{"user_id": "bob"}"#.utf8)).object["token"] as? String)
        #expect(try Self.ask(client.with(token: token), "titanic", ["message": "x"]).status == 403)
    }

    @Test func aFailingLanguageModelIsABadGateway() throws {
        let llm = try OpenAITestServer()
        let warehouse = try TestWarehouse { configuration in
            configuration.llmURL = llm.url
            configuration.llmModel = "broken"
        }
        try #require(Training.upload(warehouse.client, dataset: "iris", csv: .file(Training.path("iris"))).status == 200)
        let whole = try Self.ask(warehouse.client, "iris", ["message": "Why?"])
        #expect(whole.status == 502 && whole.detail?.contains("answered 500") == true, "\(whole.text)")
        let streamed = try Self.ask(warehouse.client, "iris", ["message": "Why?", "stream": true])
        #expect(streamed.status == 200 && streamed.text.contains(#""type":"error""#) && streamed.text.contains("answered 500"), "\(streamed.text)")
        // Nobody listening at the URL.
        let closed = try TestWarehouse { $0.llmURL = "http://127.0.0.1:9/v1" }
        try #require(Training.upload(closed.client, dataset: "iris", csv: .file(Training.path("iris"))).status == 200)
        let unreachable = try Self.ask(closed.client, "iris", ["message": "Why?"])
        #expect(unreachable.status == 502 && unreachable.detail?.contains("unreachable") == true, "\(unreachable.text)")
    }
}
