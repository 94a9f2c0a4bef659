import { api } from "../../src/core/api.js";
import { recurringRoutes } from "../../src/recurring/handlers.js";

export default api([...recurringRoutes]);
