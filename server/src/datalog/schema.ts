// The attributes moved to protocol/ so the client's replica uses the very same schema.
export { type AttributeSpec, type ValueType, SCHEMA, datascriptSchema } from "../../../protocol/src/attributes";
