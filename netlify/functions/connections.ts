import { api } from "../../src/core/api.js";
import {
  addReturnOriginHandler,
  connectCallbackHandler,
  connectInitHandler,
  deleteConnectionHandler,
  listConnectionsHandler,
  listReturnOriginsHandler,
  removeReturnOriginHandler,
  syncConnectionHandler,
  updateConnectionHandler,
} from "../../src/connections/handlers.js";

export default api({
  "POST /api/v1/connect/init": connectInitHandler,
  "GET /api/v1/connect/return-origins": listReturnOriginsHandler,
  "POST /api/v1/connect/return-origins": addReturnOriginHandler,
  "DELETE /api/v1/connect/return-origins": removeReturnOriginHandler,
  "GET /api/connect/callback/:platform": connectCallbackHandler,
  "GET /api/v1/connections": listConnectionsHandler,
  "DELETE /api/v1/connections/:connectionId": deleteConnectionHandler,
  "PATCH /api/v1/connections/:connectionId": updateConnectionHandler,
  "POST /api/v1/connections/:connectionId/sync": syncConnectionHandler,
});
