import Foundation
import Testing
import WarehouseTesting

/// Detection through the API: what the files say lands in the record, is searchable and
/// filterable, and never overrides what the uploader typed.
@Suite struct DetectionTests {
    @Test func huggingFaceFolderFillsTheRecord() throws {
        let warehouse = try TestWarehouse()
        let archive = try Tools.makeZip("hf-real", in: warehouse.directory.path)
        let response = try warehouse.client.upload("/ai-models/upload/folder", fields: [("user_id", "u"), ("model_id", "tiny-bert")],
                                                   files: [("zip_file", "tiny-bert.zip", .file(archive))])
        #expect(response.status == 200, "\(response.text)")
        let record = response.object
        #expect(record["framework"] as? String == "huggingface")
        #expect(record["num_parameters"] as? Int == 256 + 32 + 16 + 256 + 10)
        #expect(record["description"] as? String == "A tiny BERT for the warehouse tests.")
        #expect(record["dependencies"] as? [String] == ["torch>=2.1", "transformers==4.41.0"])
        let custom = record["custom_metadata"] as? [String: Any] ?? [:]
        #expect(custom["parameters_by_dtype"] as? [String: Int] == ["F32": 544, "F16": 26])
        #expect(custom["architectures"] as? [String] == ["BertForMaskedLM"])
        let formats = (record["files"] as? [[String: Any]] ?? []).reduce(into: [String: String]()) {
            $0[$1["file_path"] as? String ?? ""] = $1["format"] as? String
        }
        #expect(formats["model-00001-of-00002.safetensors"] == "safetensors")
        #expect(formats["config.json"] == "hf-config")
        #expect(formats["requirements.txt"] == "requirements")

        // Searchable and filterable by what was extracted.
        #expect(try warehouse.client.get("/ai-models/search/u?query=BertForMaskedLM").array.count == 1)
        #expect(try warehouse.client.get("/ai-models/u?format=safetensors").array.count == 1)
        #expect(try warehouse.client.get("/ai-models/u?format=onnx").array.isEmpty)
        #expect(try warehouse.client.get("/ai-models/u?min_parameters=500").array.count == 1)
        #expect(try warehouse.client.get("/ai-models/u?min_parameters=571").array.isEmpty)
        #expect(try warehouse.client.get("/ai-models/u?max_parameters=570").array.count == 1)
        #expect(try warehouse.client.get("/ai-models/u?min_parameters=lots").status == 400)
    }

    @Test func givenValuesWinAndContradictionsAreWarned() throws {
        let warehouse = try TestWarehouse()
        let pickle: [UInt8] = [0x80, 0x02] + Array("cos\nsystem\n".utf8) + [0x71, 0x00, 0x2e]
        let response = try warehouse.uploadSingle([("user_id", "u"), ("model_id", "m"), ("framework", "pytorch"),
                                                   ("description", "typed by hand")],
                                                  filename: "model.safetensors", content: .bytes(pickle))
        #expect(response.status == 200)
        #expect(response.object["framework"] as? String == "pytorch")
        #expect(response.object["description"] as? String == "typed by hand")
        let custom = response.object["custom_metadata"] as? [String: Any] ?? [:]
        #expect(custom["pickle_safety"] as? String == "unsafe")
        let warnings = custom["warnings"] as? [String] ?? []
        #expect(warnings.contains { $0.contains("os.system") }, "\(warnings)")
        #expect(try warehouse.client.get("/ai-models/u?format=pickle").array.count == 1)

        // The bytes say scikit-learn; the uploader said pytorch: kept, with a warning.
        let sklearn: [UInt8] = [0x80, 0x02] + Array("csklearn.linear_model\nLogisticRegression\n".utf8) + [0x71, 0x00, 0x2e]
        let contradicted = try warehouse.uploadSingle([("user_id", "u"), ("model_id", "lr"), ("framework", "pytorch")],
                                                      filename: "model.pkl", content: .bytes(sklearn))
        #expect(contradicted.object["framework"] as? String == "pytorch")
        let notes = (contradicted.object["custom_metadata"] as? [String: Any])?["warnings"] as? [String] ?? []
        #expect(notes.contains { $0.contains("look like 'sklearn'") }, "\(notes)")
        let detected = try warehouse.uploadSingle([("user_id", "u"), ("model_id", "lr2")], filename: "model.pkl", content: .bytes(sklearn))
        #expect(detected.object["framework"] as? String == "sklearn")
        #expect((detected.object["custom_metadata"] as? [String: Any])?["top_level_class"] as? String
                == "sklearn.linear_model.LogisticRegression")
    }
}
