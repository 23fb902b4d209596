import WarehouseCore
import WarehouseService

/// A registered model's MLflow name: `model_id` in the token's own namespace, or
/// `user_id~model_id` for any namespace the token may read (the admin names every model so).
/// `~` is in neither part's alphabet, and MLflow's names must not hold `/` or `:`.
struct MLflowModelName: Hashable, Sendable {
    static let separator: Character = "~"

    let user: String
    let model: String

    /// The model a name means for `principal`; 403 for another user's namespace.
    init(_ name: String?, principal: Principal, field: String = "name") throws {
        guard let name, !name.isEmpty else { throw MLflowError.invalid("missing value for required parameter '\(field)'") }
        let parts = name.split(separator: Self.separator, maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let user: String
        let model: String
        if parts.count == 2 {
            (user, model) = (parts[0], parts[1])
        } else if case .user(let own) = principal {
            (user, model) = (own, name)
        } else {
            throw MLflowError.invalid("the admin token names models 'user_id~model_id' (got '\(name)')")
        }
        guard Identifiers.isValidName(user), Identifiers.isValidName(model) else {
            throw MLflowError.invalid("'\(name)' is not a model name here: model ids are 1-128 letters, digits, '.', '_' or '-', "
                + "starting with a letter or digit; another namespace is 'user_id~model_id'")
        }
        do {
            try principal.authorize(user: user)
        } catch {
            throw MLflowError.denied("this token may not use models of user '\(user)'")
        }
        self.user = user
        self.model = model
    }

    init(user: String, model: String) {
        self.user = user
        self.model = model
    }

    /// The name `principal` knows this model by.
    func name(for principal: Principal) -> String {
        if case .user(let own) = principal, own == user { return model }
        return "\(user)\(Self.separator)\(model)"
    }
}

/// MLflow's version numbers over the warehouse's: `vN` is `"N"`; `v1.2` has no MLflow number
/// and is listed nowhere in MLflow's answers.
enum MLflowVersion {
    static func number(_ version: String) -> Int? {
        guard let parsed = ModelVersionNumber(version), parsed.parts.minor < 0 else { return nil }
        return parsed.parts.major
    }

    /// `"3"` → `v3`; anything but digits is MLflow's INVALID_PARAMETER_VALUE.
    static func version(_ text: String?) throws -> String {
        guard let text, !text.isEmpty, text.count <= 9, text.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(text) else {
            throw MLflowError.invalid("version must be an integer (got '\(text ?? "")')")
        }
        return "v\(number)"
    }
}
